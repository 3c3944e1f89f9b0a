import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { route } from '../../platform/http/route.ts';
import type { Complaints } from './cases.ts';
import { complaintsError } from './errors.ts';
import { casesCsv } from './export.ts';
import type { MailDrop } from './mail-drop.ts';
import { AssignSchema, CloseSchema, IntakeSchema, LINK_KINDS, LinkSchema, ListQuery } from './schema.ts';

/**
 * Complaints and tips over HTTP. Every answer is the case as its reader may see it: an anonymous
 * tipster is "anonymous" in every field on every route but `/tipster` and `/raw`, which only the
 * complaints staff may call and each of which is audited.
 */

const tags = ['complaints'];
const CaseParams = z
  .object({
    ref: z
      .string()
      .regex(/^([1-9][0-9]{0,15}|TS-[0-9]{4}-[0-9]{4,6})$/i, 'a case id or number such as TS-2026-0001'),
  })
  .strict();
const refOf = (s: string): string | number => (/^[0-9]+$/.test(s) ? Number(s) : s.toUpperCase());

export function complaintsRoutes(
  c: Complaints,
  mail: MailDrop | null,
  timezone: string,
): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/complaints/export',
        summary:
          'The cases the reader may see, as CSV (times in the campus time zone; anonymous tipsters stay anonymous)',
        tags,
        permission: 'authenticated',
        query: ListQuery,
        handler: ({ query, actor, reply }) => {
          const csv = casesCsv(c.list(actor, query), timezone);
          reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', 'attachment; filename="complaints.csv"');
          return csv;
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/complaints',
        summary:
          'Complaints and tips, newest first, searchable; an inspector gets only the cases linked to them',
        tags,
        permission: 'authenticated',
        query: ListQuery,
        handler: ({ query, actor }) => c.list(actor, query),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/complaints',
        summary: 'Record a hotline call or a box note (the complaints staff); numbered TS-<year>-<seq>',
        tags,
        permission: 'complaints.record',
        body: IntakeSchema,
        status: 201,
        handler: ({ body, actor }) => c.intake(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/complaints/:ref',
        summary: 'One case as the reader may see it',
        tags,
        permission: 'authenticated',
        params: CaseParams,
        handler: ({ params, actor }) => c.get(actor, refOf(params.ref)),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/complaints/:ref/tipster',
        summary: "The tipster's identity (the complaints staff only; the read is audited)",
        tags,
        permission: 'complaints.identity',
        params: CaseParams,
        handler: ({ params, actor }) => c.tipster(actor, refOf(params.ref)),
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/complaints/:ref/raw',
        summary: 'The email as received (message/rfc822; the complaints staff only; audited)',
        tags,
        permission: 'complaints.identity',
        params: CaseParams,
        handler: ({ params, actor, reply }) => {
          c.tipster(actor, refOf(params.ref)); // checks the permission and audits the read
          const raw = mail?.raw(c.get(actor, refOf(params.ref)).id) ?? null;
          if (!raw) complaintsError('NO_MESSAGE', `${params.ref} has no email kept`);
          reply.type('message/rfc822');
          return raw;
        },
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/complaints/:ref/assign',
        summary: 'Assign the case to one of the complaints staff',
        tags,
        permission: 'complaints.record',
        params: CaseParams,
        body: AssignSchema,
        handler: ({ params, body, actor }) => c.assign(actor, refOf(params.ref), body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/complaints/:ref/links',
        summary: 'Link the case to an alert, an account, a meter, or an inspector sent to inspect',
        tags,
        permission: 'complaints.record',
        params: CaseParams,
        body: LinkSchema,
        status: 201,
        handler: ({ params, body, actor }) => c.link(actor, refOf(params.ref), body),
      }),
    (app) =>
      route(app, {
        method: 'DELETE',
        url: '/api/complaints/:ref/links/:kind/:target',
        summary: 'Remove a link made by mistake (audited)',
        tags,
        permission: 'complaints.record',
        params: CaseParams.extend({ kind: z.enum(LINK_KINDS), target: z.string().min(1).max(64) }).strict(),
        handler: ({ params, actor }) =>
          c.unlink(actor, refOf(params.ref), { kind: params.kind, ref: params.target }),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/complaints/:ref/close',
        summary: 'Close the case with its outcome and a note',
        tags,
        permission: 'complaints.record',
        params: CaseParams,
        body: CloseSchema,
        handler: ({ params, body, actor }) => c.close(actor, refOf(params.ref), body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/complaints/mail-drop/scan',
        summary: 'Read the tip mailbox now instead of at its next poll',
        tags,
        permission: 'complaints.record',
        handler: async () => {
          if (!mail) complaintsError('NO_MAIL_DROP', 'no mail drop is configured (complaints.mailDrop)');
          return mail.scan();
        },
      }),
  ];
}
