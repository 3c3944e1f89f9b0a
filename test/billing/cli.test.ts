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

describe('campus-energy billing invoice-check', () => {
  function withSupplyPoint() {
    const { dir, config } = campusDir();
    const text = readFileSync(config, 'utf8');
    // Added to the example campus's own supply points (it has a heat-exchange station): a second
    // `billing:` key would be a YAML error, not this test's subject.
    const point =
      "    - id: SP-WATER-EAST\n      utility: water\n      meter: W-H-12-301\n      billedMeters: [W-H-12-301]\n      lossPercent: 0\n      contract:\n        - effectiveFrom: '2024-01-01'\n          components: [{ name: water, price: '4.30' }]\n";
    writeFileSync(
      config,
      text.includes('\nbilling:\n  supplyPoints:\n')
        ? text.replace('\nbilling:\n  supplyPoints:\n', `\nbilling:\n  supplyPoints:\n${point}`)
        : `${text}\nbilling:\n  supplyPoints:\n${point}`,
    );
    const invoice = (name: string, body: object) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ supplyPoint: 'SP-WATER-EAST', ...body }));
      return file;
    };
    return { config, invoice };
  }

  it("checks the utility's invoice against the supply point from the campus file, and says why it is flagged", async () => {
    const { config, invoice } = withSupplyPoint();
    const args = (file: string, format = 'json') => [
      'billing',
      'invoice-check',
      '--config',
      config,
      '--period',
      '2026-11',
      '--invoice',
      file,
      '--format',
      format,
    ];
    const first = await cli(
      args(
        invoice('zero', {
          invoiceNo: 'W-1',
          quantity: 0,
          amountFen: 0,
          elements: [{ name: 'water', amountFen: 0 }],
        }),
      ),
    );
    expect(first.code).toBe(0);
    const check = JSON.parse(first.out) as {
      flagged: boolean;
      amount: { expectedFen: number };
      quantity: { metered: number };
    };
    expect(check.flagged).toBe(true);
    expect(check.amount.expectedFen).toBeGreaterThan(0);
    const { expectedFen } = check.amount;
    const fair = await cli(
      args(
        invoice('fair', {
          invoiceNo: 'W-2',
          quantity: check.quantity.metered,
          amountFen: expectedFen,
          elements: [{ name: 'water', amountFen: expectedFen }],
        }),
        'text',
      ),
    );
    expect(fair.code).toBe(0);
    expect(fair.out).toContain(
      'SP-WATER-EAST W-2 (2026-11): agrees (threshold 3 %, at or beyond is flagged)',
    );
    const high = Math.ceil(expectedFen * 1.03);
    const over = await cli(
      args(
        invoice('over', {
          invoiceNo: 'W-3',
          quantity: check.quantity.metered,
          amountFen: high,
          elements: [{ name: 'water', amountFen: high }],
        }),
        'text',
      ),
    );
    expect(over.out).toContain('W-3 (2026-11): FLAGGED');
    expect(over.out).toMatch(/reason: amount differs from the expected \d+ fen by 3(\.0\d)? %/);
  });

  it('names an unknown supply point and a repeated invoice, exit 1', async () => {
    const { config, invoice } = withSupplyPoint();
    const bad = invoice('bad', {
      supplyPoint: 'SP-NOPE',
      invoiceNo: 'X',
      quantity: 1,
      amountFen: 1,
      elements: [{ name: 'water', amountFen: 1 }],
    });
    const r = await cli([
      'billing',
      'invoice-check',
      '--config',
      config,
      '--period',
      '2026-11',
      '--invoice',
      bad,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no supply point SP-NOPE');
    const ok = invoice('ok', {
      invoiceNo: 'Y',
      quantity: 1,
      amountFen: 1,
      elements: [{ name: 'water', amountFen: 1 }],
    });
    await cli(['billing', 'invoice-check', '--config', config, '--period', '2026-11', '--invoice', ok]);
    const again = await cli([
      'billing',
      'invoice-check',
      '--config',
      config,
      '--period',
      '2026-11',
      '--invoice',
      ok,
    ]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('invoice Y of SP-WATER-EAST was entered already');
  });
});
