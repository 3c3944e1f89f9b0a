import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerBillingCommands } from '../../bin/billing-cli.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { fixtureAccounts, fixtureSource, fixtureTariffInput } from './fixture.ts';

async function cli(args: string[], withSource = true) {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const program = new Command('campus-energy').exitOverride();
  registerBillingCommands(program, {
    io: { out: (t) => out.push(t), err: (l) => err.push(l), exitCode: (c) => (code = c) },
    ...(withSource ? { openValidatedSource: async () => fixtureSource() } : {}),
  });
  await program.parseAsync(['node', 'campus-energy', ...args]);
  return { out: out.join(''), err: err.join('\n'), code };
}

function campusDir() {
  const { dir, db } = tempBackoffice('unused.sqlite');
  db.close();
  const config = tempCampusFile(dir);
  writeFileSync(join(dir, 'billing-accounts.yaml'), JSON.stringify({ accounts: fixtureAccounts }));
  writeFileSync(join(dir, 'tariffs.json'), JSON.stringify(fixtureTariffInput));
  return { dir, config };
}

describe('campus-energy billing export', () => {
  it('bills the month, records the run in the back office and writes the payroll list', async () => {
    const { dir, config } = campusDir();
    const out = join(dir, 'out', 'payroll.csv');
    const r = await cli([
      'billing',
      'export',
      '--config',
      config,
      '--period',
      '2026-11',
      '--list',
      'payroll',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('P004211,H-12-301,Staff household 12-301,27694,276.94,');
    expect(r.err).toMatch(/5 meters billed, ¥4120\.87; 1 blocked/);
    expect(r.err).toContain('blocked B-CAFE/E-CAFE-02');
    // The example campus has none of the fixture's meters: said, not refused.
    expect(r.err).toContain('warning: S-E1-101: meter E-E1-101 is not in the campus file');
    const json = await cli([
      'billing',
      'export',
      '--config',
      config,
      '--period',
      '2026-11',
      '--format',
      'json',
    ]);
    expect(JSON.parse(json.out)).toMatchObject({ totalFen: 412_087 });
  });

  it('exits 1 on a bad period and 2 without a VEE source', async () => {
    const { config } = campusDir();
    expect((await cli(['billing', 'export', '--config', config, '--period', 'Nov'])).code).toBe(1);
    const none = await cli(['billing', 'export', '--config', config, '--period', '2026-11'], false);
    expect(none.code).toBe(2);
    expect(none.err).toContain('no VEE source');
  });
});
