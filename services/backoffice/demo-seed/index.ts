import { dirname, resolve } from 'node:path';
import type { RunningBackoffice } from '../run.ts';
import { seedComplaints } from './complaints.ts';
import { seedHalfMonth, writeDemoAccounts } from './half-month.ts';

export { demoRulebookCampus } from './rulebook-data.ts';

/**
 * The demo's rulebook filled in at its first start (bin/demo.ts calls this once): post-paid
 * accounts, a half month of billing and collection with its reconciliation, and complaints and
 * tips. Returns the lines the demo prints about it. A step that fails is reported in those lines
 * and the demo goes on: a demo without its seeded bills is still a demo.
 */
export async function seedDemoRulebook(
  bo: Pick<RunningBackoffice, 'campus' | 'db' | 'store' | 'complaints'>,
  o: { start: number; now: number },
): Promise<string[]> {
  const lines: string[] = [];
  writeDemoAccounts(bo.campus);
  try {
    lines.push(...(await seedHalfMonth({ ...bo, ...o })).lines);
  } catch (err) {
    lines.push(`post-paid half month not seeded: ${(err as Error).message}`);
  }
  const settings = bo.campus.config.complaints;
  const mailDir = settings.mailDrop ? resolve(dirname(bo.campus.file), settings.mailDrop) : null;
  try {
    const cases = await seedComplaints(bo.complaints, {
      ...{ now: o.now, mailDir },
      timezone: bo.campus.config.campus.timezone,
    });
    if (cases.length) lines.push(`complaints and tips (demo.complaints): ${cases.join('; ')}`);
  } catch (err) {
    lines.push(`complaints not seeded: ${(err as Error).message}`);
  }
  return lines;
}
