import { Command } from 'commander';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerBillingCommands } from '../../bin/billing-cli.ts';
import { loadCampus } from '../../config/campus.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../../services/platform/audit/paths.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { seedTariffs } from '../../services/money/billing/tariff-source.ts';
import { TariffStore } from '../../services/money/billing/tariff-store.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { fixtureAccounts, fixtureSource, fixtureTariffInput } from './fixture.ts';
import { billing, local, supervisor } from './support.ts';

/**
 * The billing CLI prices from the back office's tariff version in force, not from a file: after an
 * approved change it bills the new price even though tariffs.json still holds the old table.
 */
async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const program = new Command('campus-energy').exitOverride();
  registerBillingCommands(program, {
    io: { out: (t) => out.push(t), err: (l) => err.push(l), exitCode: (c) => (code = c) },
    openValidatedSource: async () => fixtureSource(),
  });
  await program.parseAsync(['node', 'campus-energy', ...args]);
  return { out: out.join(''), err: err.join('\n'), code };
}

function campusDir(withTariffs = true) {
  const { dir, db } = tempBackoffice('unused.sqlite');
  db.close();
  const config = tempCampusFile(dir);
  writeFileSync(join(dir, 'billing-accounts.yaml'), JSON.stringify({ accounts: fixtureAccounts }));
  if (withTariffs) writeFileSync(join(dir, 'tariffs.json'), JSON.stringify(fixtureTariffInput));
  return { dir, config };
}

/** Opens the campus's back-office database as the back office would, on 1 November 2026. */
function openStore(config: string) {
  const campus = loadCampus(config);
  const db = openBackofficeDb(backofficePath(campus));
  const clock = () => local(2026, 11, 1, 9);
  const audit = openAuditLog(db, clock, auditKeyPath(campus));
  return { db, audit, store: new TariffStore({ db, audit, clock }) };
}

const studentLine = (run: { lines: { account: string; totalFen: number }[] }) =>
  run.lines.find((l) => l.account === 'S-E1-101')!.totalFen;

describe('campus-energy billing export and the tariffs in force', () => {
  it('imports tariffs.json into an empty back office once, as system:import, and bills from it', async () => {
    const { dir, config } = campusDir();
    const r = await cli(['billing', 'export', '-c', config, '--period', '2026-11', '--format', 'json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('imported as version 1');
    // 48 kWh at ¥0.588 + 48.1 kWh at ¥0.61 = 5756.5 fen, rounded half up once.
    expect(studentLine(JSON.parse(r.out))).toBe(5757);
    const { db, audit, store } = openStore(config);
    expect(store.currentVersion()).toBe(1);
    expect(audit.query({ action: 'tariffs.import' }).map((e) => e.actor)).toEqual(['system:import']);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after an approved change, bills the new price although tariffs.json is the old table; a named file that differs is refused', async () => {
    const { dir, config } = campusDir();
    const { db, store } = openStore(config);
    expect(seedTariffs(store, join(dir, 'tariffs.json'))).toMatchObject({ version: 1, imported: true });
    const p = store.propose(billing, {
      tariff: {
        utility: 'electricity',
        customerTypes: ['student-room'],
        effectiveFrom: '2026-11-20',
        unit: 'kWh',
        components: [{ name: 'energy', price: '0.70' }],
      },
      reason: 'price bureau notice 2026-31',
    });
    expect(store.approve(supervisor, p.id).version).toBe(2);
    db.close();

    const named = await cli([
      'billing',
      'export',
      '-c',
      config,
      '--period',
      '2026-11',
      '--tariffs',
      join(dir, 'tariffs.json'),
    ]);
    expect(named.code).toBe(1);
    expect(named.err).toContain('differs from tariff version 2');

    const r = await cli(['billing', 'export', '-c', config, '--period', '2026-11', '--format', 'json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('warning:');
    expect(r.err).toContain('differs from tariff version 2');
    // 48 kWh at 0.588 + 12.8 kWh at 0.61 + 35.3 kWh at 0.70 = 2822.4 + 780.8 + 2471 = 6074.2 fen.
    expect(studentLine(JSON.parse(r.out))).toBe(6074);
    rmSync(dir, { recursive: true, force: true });
  });

  it('with no tariff version and no tariffs.json: exit 1 naming what is missing, nothing billed or imported', async () => {
    const { dir, config } = campusDir(false);
    const r = await cli(['billing', 'export', '-c', config, '--period', '2026-11']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no tariff version in the back office');
    const { db, store } = openStore(config);
    expect(store.currentVersion()).toBe(0);
    const runs = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'bill_runs'").get() as {
      n: number;
    };
    if (runs.n > 0) expect(db.prepare('SELECT COUNT(*) AS n FROM bill_runs').get()).toEqual({ n: 0 });
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
