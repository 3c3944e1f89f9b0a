import { wallClock } from '../../metering/consumption/zone.ts';
import type { CaseView } from './cases.ts';

/**
 * The case list as CSV for a spreadsheet, built from the reader's own views: an export can hold no
 * more than its reader may see, so an anonymous tipster is "anonymous" here too. RFC 4180 quoting;
 * text a spreadsheet would run as a formula gets an apostrophe. Times in the campus time zone.
 */

const HEADER = [
  'number',
  'received',
  'channel',
  'kind',
  'state',
  'assignee',
  'summary',
  'tipster name',
  'tipster phone',
  'tipster email',
  'links',
  'outcome',
  'closed',
];

function cell(v: string | null): string {
  if (v === null) return '';
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function local(ts: number | null, timezone: string): string | null {
  if (ts === null) return null;
  const w = wallClock(ts, timezone);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${p(w.month)}-${p(w.day)} ${p(w.hour)}:${p(w.minute)}`;
}

export function casesCsv(cases: readonly CaseView[], timezone: string): string {
  const rows = cases.map((c) => [
    ...[c.number, local(c.receivedAt, timezone), c.channel, c.kind, c.state, c.assignee, c.summary],
    ...[c.tipster.name, c.tipster.phone, c.tipster.email],
    c.links.map((l) => `${l.kind}:${l.ref}`).join(' '),
    c.outcome,
    local(c.closedAt, timezone),
  ]);
  return [HEADER, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}
