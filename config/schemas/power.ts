import { z } from 'zod';

/**
 * The campus file's dorm power sections: `schedules` (lights-out and power-on per building,
 * floor or room group) and `powerLimits` (the most a room may draw, per customer type). Both are
 * data a clerk writes and a supervisor approves once in the back office; an edit voids the
 * approval (services/operations/schedules, services/operations/power-limits).
 */

const Id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'ids are 1–64 letters, digits, "_", "-" or "."');
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day is HH:MM (24 h, local)');
const DATE = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')
  .refine((d) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    return Number.isFinite(t) && new Date(t).toISOString().startsWith(d);
  }, 'no such date');

/** The circuits a room's relays switch; `room` is a single relay for the whole room. */
export const CIRCUITS = ['room', 'lighting', 'sockets', 'air-conditioning'] as const;
export const CircuitSchema = z.enum(CIRCUITS);
export type Circuit = z.infer<typeof CircuitSchema>;

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** The customer types (services/money/billing/tariffs.ts CUSTOMER_TYPES; a test keeps them equal). */
export const LIMIT_CUSTOMER_TYPES = [
  'student-room',
  'staff-household',
  'business',
  'external',
  'fully-recovered-unit',
  'vendor',
  'public',
] as const;

const DURATION_UNITS = { s: 1000, m: 60_000, h: 3_600_000 } as const;
const Seconds = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(s|m|h)$/, 'a duration like 30s, 5m or 1h')])
  .transform((v) =>
    typeof v === 'number'
      ? v
      : Number(v.slice(0, -1)) * DURATION_UNITS[v.slice(-1) as keyof typeof DURATION_UNITS],
  )
  .describe('A duration like 30s, 5m or 1h, or milliseconds');

export const ScheduleSchema = z
  .object({
    id: Id.describe('Names the schedule in approvals, holds (schedule:<id>) and the audit log'),
    name: z.string().max(200).optional(),
    rooms: z
      .object({
        under: z
          .array(Id)
          .default([])
          .describe('Building or floor meters: every relay meter below them in the metering tree'),
        accounts: z.array(z.string().min(1)).default([]).describe('Rooms by their account id'),
        meters: z.array(Id).default([]).describe('Single relay meters'),
      })
      .strict()
      .refine(
        (r) => r.under.length + r.accounts.length + r.meters.length > 0,
        'name at least one building, floor, room or meter',
      ),
    circuits: z
      .array(CircuitSchema)
      .min(1)
      .default(['room', 'lighting', 'sockets'])
      .describe(
        'Which circuits it switches (a meter’s `circuit`); by default all but air-conditioning, which dorms keep on at night',
      ),
    off: HHMM.describe('Lights-out, campus local time'),
    on: HHMM.describe('Power-on, local; the next morning when not after `off`'),
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .default([...WEEKDAYS])
      .describe('Weekdays whose evening has a lights-out (Friday and Saturday are often left out)'),
    terms: z
      .array(z.object({ from: DATE, to: DATE }).strict())
      .default([])
      .describe('Only nights starting within one of these term dates (inclusive); none: every night'),
    holidays: z.array(DATE).default([]).describe('Nights starting on these dates have no lights-out'),
    effectiveFrom: DATE.describe('First night it applies'),
    effectiveTo: DATE.optional().describe('Last night it applies'),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.off === s.on)
      ctx.addIssue({ code: 'custom', path: ['on'], message: 'on and off are the same time' });
    if (s.effectiveTo !== undefined && s.effectiveTo < s.effectiveFrom)
      ctx.addIssue({ code: 'custom', path: ['effectiveTo'], message: 'effectiveTo is before effectiveFrom' });
    s.terms.forEach((t, i) => {
      if (t.to < t.from)
        ctx.addIssue({ code: 'custom', path: ['terms', i, 'to'], message: 'a term ends before it starts' });
    });
  });
export type ScheduleConfig = z.infer<typeof ScheduleSchema>;

export const SchedulesSchema = z
  .array(ScheduleSchema)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `schedule id "${s.id}" is used twice` });
      seen.add(s.id);
    });
  });

export const PowerLimitSchema = z
  .object({
    kw: z.number().positive().max(1000).describe('The most the room may draw (total active power)'),
    overFor: Seconds.default(30_000).describe('Over the limit this long trips the relay'),
    restoreAfter: Seconds.default(300_000).describe('A trip is restored automatically this long after'),
    maxAutoRestoresPerDay: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(3)
      .describe('Automatic restores per room and local day; then a person restores (two people)'),
  })
  .strict();
export type PowerLimit = z.infer<typeof PowerLimitSchema>;

export const PowerLimitsSchema = z
  .object({
    byCustomerType: z
      .partialRecord(z.enum(LIMIT_CUSTOMER_TYPES), PowerLimitSchema)
      .default({})
      .describe('The limit of every room of a customer type'),
    meters: z
      .record(Id, PowerLimitSchema)
      .default({})
      .describe('A room’s own limit, where it differs (e.g. approved medical equipment)'),
    illegalLoad: z
      .object({
        restoreAfter: Seconds.default(300_000),
        maxAutoRestoresPerDay: z.number().int().min(0).max(20).default(3),
      })
      .strict()
      .prefault({})
      .describe('Trips for an illegal (resistive) load found by detection: same restore rule'),
    checkEvery: Seconds.default(10_000).describe('How often the latest readings are compared'),
  })
  .strict()
  .prefault({});
export type PowerLimitsConfig = z.infer<typeof PowerLimitsSchema>;

/** What the cross-check needs of the campus: its meters and their place in the tree. */
interface CampusShape {
  sites: { gateways: { buses: { meters: { id: string; account?: string | undefined }[] }[] }[] }[];
  schedules: ScheduleConfig[];
  powerLimits: PowerLimitsConfig;
}

/** Schedules and limits name meters and accounts of this campus; anything else is a typo. */
export function powerProblems(c: CampusShape): { path: (string | number)[]; message: string }[] {
  const meters = new Set<string>();
  const accounts = new Set<string>();
  for (const site of c.sites)
    for (const gw of site.gateways)
      for (const bus of gw.buses)
        for (const m of bus.meters) {
          meters.add(m.id);
          if (m.account) accounts.add(m.account);
        }
  const problems: { path: (string | number)[]; message: string }[] = [];
  c.schedules.forEach((s, i) => {
    for (const key of ['under', 'meters'] as const)
      s.rooms[key].forEach((id, j) => {
        if (!meters.has(id))
          problems.push({
            path: ['schedules', i, 'rooms', key, j],
            message: `no meter "${id}" in the campus`,
          });
      });
    s.rooms.accounts.forEach((id, j) => {
      if (!accounts.has(id))
        problems.push({
          path: ['schedules', i, 'rooms', 'accounts', j],
          message: `no meter of the campus is billed to account "${id}"`,
        });
    });
  });
  for (const id of Object.keys(c.powerLimits.meters))
    if (!meters.has(id))
      problems.push({ path: ['powerLimits', 'meters', id], message: `no meter "${id}" in the campus` });
  return problems;
}
