import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Actor } from '../../platform/auth/roles.ts';
import { wallClock } from '../../metering/consumption/zone.ts';
import type { ComplaintsPart } from '../parts/complaints.ts';
import { DEMO_CASES, DEMO_TIP_EMAIL } from './rulebook-data.ts';

/**
 * The complaints and tips the demo starts with, recorded by demo.complaints through the desk (an
 * anonymous hotline tip sent to the inspector, a box complaint linked to its account, a call
 * referred elsewhere and closed), and one email delivered into the tip mailbox as postfix would
 * (tmp/ then new/) and read by the mail drop. Nothing is recorded twice: the desk is seeded only
 * while it holds no case.
 */

const desk: Actor = { id: 'demo.complaints', kind: 'user', roles: ['complaints'] };

export async function seedComplaints(
  part: ComplaintsPart,
  o: { now: number; timezone: string; mailDir: string | null },
): Promise<string[]> {
  const { now, mailDir } = o;
  const c = part.complaints;
  if (c.list(desk).length > 0) return [];
  const lines: string[] = [];
  for (const x of DEMO_CASES) {
    const made = c.intake(desk, {
      ...{ channel: x.channel, kind: x.kind, summary: x.summary, details: x.details },
      ...{ anonymous: x.anonymous, tipster: x.tipster, receivedAt: now - 26 * 3_600_000 },
      ...('box' in x ? { box: x.box, boxOpenedOn: localDay(now - 26 * 3_600_000, o.timezone) } : {}),
    });
    c.assign(desk, made.number, { to: desk.id });
    for (const l of x.links)
      c.link(desk, made.number, { kind: l.kind, ref: l.ref, ...(l.note ? { note: l.note } : {}) });
    if ('close' in x) c.close(desk, made.number, x.close);
    lines.push(`${made.number} ${x.channel}${x.anonymous ? ' (anonymous)' : ''}: ${x.summary}`);
  }
  if (part.mailDrop && mailDir) {
    const name = `${Math.floor(now / 1000)}.Vdemo.campus-energy-demo`;
    writeFileSync(join(mailDir, 'tmp', name), DEMO_TIP_EMAIL);
    renameSync(join(mailDir, 'tmp', name), join(mailDir, 'new', name));
    await part.mailDrop.scan();
    const mail = c.list(desk, { channel: 'email' })[0];
    if (mail)
      lines.push(`${mail.number} email (anonymous, from the tip mailbox ${mailDir}): ${mail.summary}`);
  }
  return lines;
}

/** YYYY-MM-DD in the campus zone, for the box's emptying day. */
function localDay(ts: number, timezone: string): string {
  const w = wallClock(ts, timezone);
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}
