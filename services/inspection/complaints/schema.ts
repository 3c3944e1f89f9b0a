import { z } from 'zod';

/** The requests of the complaints desk, as data: the routes and the service parse the same schemas. */

export const CHANNELS = ['hotline', 'box', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];

export const CASE_KINDS = ['complaint', 'tip'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

export const LINK_KINDS = ['alert', 'account', 'meter', 'inspection'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/**
 * How a case ends: the facts were found (and handled through the alert or inspection linked),
 * not found, handed to another department, or withdrawn by whoever raised it; `duplicate` names
 * the earlier case in the note.
 */
export const OUTCOMES = ['substantiated', 'unsubstantiated', 'referred', 'withdrawn', 'duplicate'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const Identity = z
  .object({
    name: z.string().trim().max(100).optional(),
    phone: z
      .string()
      .trim()
      .regex(/^$|^[0-9+() -]{3,30}$/, 'a phone number is digits, spaces, + ( ) and -')
      .optional(),
    email: z.string().trim().max(254).optional(),
  })
  .strict();

export const IntakeSchema = z
  .object({
    channel: z.enum(['hotline', 'box']).describe('Email cases come from the mail drop, not this route'),
    kind: z.enum(CASE_KINDS),
    summary: z.string().trim().min(1).max(300).describe('What the case is about, as others may read it'),
    details: z.string().trim().max(10_000).default('').describe('What the caller said or the note read'),
    receivedAt: z.number().int().nonnegative().optional().describe('UTC ms; now unless given'),
    box: z.string().trim().min(1).max(100).optional().describe('Which box (box cases)'),
    boxOpenedOn: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD')
      .optional()
      .describe('The day the box was emptied, campus time (box cases)'),
    anonymous: z.boolean().describe("Keep the tipster's identity from everyone but the complaints staff"),
    tipster: Identity.optional(),
  })
  .strict();
export type IntakeInput = z.input<typeof IntakeSchema>;

export const AssignSchema = z.object({ to: z.string().trim().min(1).max(64) }).strict();

export const LinkSchema = z
  .object({
    kind: z.enum(LINK_KINDS),
    ref: z.string().trim().min(1).max(64).describe('Alert id, account id, meter id or inspector user name'),
    note: z.string().trim().max(500).optional(),
  })
  .strict();
export type LinkInput = z.input<typeof LinkSchema>;

export const CloseSchema = z
  .object({ outcome: z.enum(OUTCOMES), note: z.string().trim().min(1).max(2000) })
  .strict();

export const ListQuery = z
  .object({
    q: z.string().trim().max(100).optional().describe('Words in the number, summary, box or links'),
    state: z.enum(['open', 'assigned', 'closed']).optional(),
    channel: z.enum(CHANNELS).optional(),
    flagged: z.enum(['true', 'false']).optional().describe('Only email cases flagged unreadable'),
  })
  .strict();
export type ListFilter = z.output<typeof ListQuery>;
