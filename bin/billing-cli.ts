import { Option, type Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCampus, type LoadedCampus } from '../config/campus.ts';
import { ConfigError } from '../config/errors.ts';
import { openAuditLog, type AuditLog } from '../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../services/platform/audit/paths.ts';
import type { Actor } from '../services/platform/auth/roles.ts';
import { openBackofficeDb, type BackofficeDb } from '../services/platform/db.ts';
import { crossCheckAccounts, loadBillingAccounts } from '../services/money/billing/accounts.ts';
import { BillRuns } from '../services/money/billing/bill-run.ts';
import { EXPORT_LISTS, exportRun, type ExportList } from '../services/money/billing/export.ts';
import { InvoiceChecks, type InvoiceCheck } from '../services/money/billing/invoice-check.ts';
import { formatFen } from '../services/money/billing/money.ts';
import { parsePeriod } from '../services/money/billing/period.ts';
import { assertFileInForce, seedTariffs } from '../services/money/billing/tariff-source.ts';
import { TariffStore } from '../services/money/billing/tariff-store.ts';
import { ServiceError } from '../services/platform/errors.ts';
import type { ValidatedSource } from '../services/metering/vee/types.ts';

/**
 * `campus-energy billing export`: bill every post-paid account for a period from VEE-validated
 * data, record the run (audited) in the back office, and write it, or its payroll-deduction or
 * payment-notice list, as CSV or JSON. Exit codes: 0 done (blocked meters are listed on stderr), 1 a
 * bad campus, accounts or tariff file or period, 2 any other error.
 */

export interface BillingCliIo {
  out: (text: string) => void;
  err: (line: string) => void;
  exitCode: (code: number) => void;
}

export interface BillingCliDeps {
  /**
   * Opens VEE's validated data for the campus (services/metering/vee, e.g. `new Vee({ store, db, audit, … })`
   * on the campus store and this back-office database, so pins land next to the run). The CLI
   * refuses to bill without it: raw registers are never billed.
   */
  openValidatedSource?: (
    campus: LoadedCampus,
    backoffice: { db: BackofficeDb; audit: AuditLog },
  ) => Promise<ValidatedSource & { close?: () => Promise<void> | void }>;
  io?: BillingCliIo;
  clock?: () => number;
}

const processIo: BillingCliIo = {
  out: (text) => process.stdout.write(text),
  err: (line) => console.error(line),
  exitCode: (code) => {
    process.exitCode = code;
  },
};

/** The machine identity a CLI bill run or invoice check is recorded under (the shell user is added to it). */
function cliActor(): Actor {
  const who = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  return {
    id: `system:billing-cli(${who})`,
    kind: 'token',
    roles: ['billing'],
    scopes: ['billing.export', 'invoices.check'],
  };
}

/** An invoice check for people: the verdict, each figure and each reason. */
function invoiceText(c: InvoiceCheck): string {
  const pct = (p: number | null) => (p === null ? '–' : `${p.toFixed(2)} %`);
  const lines = [
    `invoice check #${c.id}: ${c.supplyPoint} ${c.invoiceNo} (${c.period.label}): ${c.flagged ? 'FLAGGED' : 'agrees'} (threshold ${c.thresholdPercent} %, at or beyond is flagged)`,
    `  amount: invoiced ¥${formatFen(c.amount.billedFen)}, expected ¥${formatFen(c.amount.expectedFen)}, difference ¥${formatFen(c.amount.differenceFen)} (${pct(c.amount.differencePercent)})${c.amount.flagged ? ' FLAGGED' : ''}`,
    `  quantity: invoiced ${c.quantity.invoiced}, main meter ${c.quantity.metered} (${pct(c.quantity.differencePercent)})${c.quantity.flagged ? ' FLAGGED' : ''}`,
    ...c.elements.map(
      (e) =>
        `  ${e.name}: invoiced ¥${formatFen(e.billedFen)}, expected ${e.expectedFen === null ? 'none' : `¥${formatFen(e.expectedFen)}`} (${pct(e.differencePercent)})${e.flagged ? ' FLAGGED' : ''}`,
    ),
    `  loss: main − internal ${c.loss.gap} (${pct(c.loss.gapPercent)}), technical ${c.loss.lossPercent} % (${c.loss.lossSource}), unexplained ${c.loss.unexplained} (${pct(c.loss.unexplainedPercent)})${c.loss.flagged ? ' FLAGGED' : ''}`,
    ...c.reasons.map((r) => `  reason: ${r}`),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerBillingCommands(program: Command, deps: BillingCliDeps = {}): Command {
  const io = deps.io ?? processIo;
  const billing = program.command('billing').description('Post-paid billing: bill runs and their exports');
  billing
    .command('export')
    .description('Bill a period, record the run (audited) and write it as CSV or JSON')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('--period <period>', 'a month (2026-11) or dates (2026-11-05..2026-12-05), campus time')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json']).default('csv'))
    .addOption(
      new Option('--list <list>', 'all lines, the payroll-deduction list or the payment-notice list')
        .choices([...EXPORT_LISTS])
        .default('all'),
    )
    .option('--out <file>', 'write here instead of stdout')
    .option(
      '--accounts <file>',
      'post-paid accounts (YAML/JSON); default billing-accounts.yaml next to the campus file',
    )
    .option(
      '--tariffs <file>',
      "tariff table (JSON/YAML), imported only into a back office with none yet; otherwise it must be the back office's version in force (default tariffs.json next to the campus file, compared with a warning)",
    )
    .action(
      async (opts: {
        config: string;
        period: string;
        format: 'csv' | 'json';
        list: ExportList;
        out?: string;
        accounts?: string;
        tariffs?: string;
      }) => {
        try {
          const campus = loadCampus(opts.config);
          const dir = dirname(resolve(opts.config));
          const timezone = campus.config.campus.timezone;
          const period = parsePeriod(opts.period, timezone);
          const accountsFile = resolve(opts.accounts ?? join(dir, 'billing-accounts.yaml'));
          const defaultTariffs = join(dir, 'tariffs.json');
          const tariffsFile = opts.tariffs
            ? resolve(opts.tariffs)
            : existsSync(defaultTariffs)
              ? defaultTariffs
              : undefined;
          for (const f of [accountsFile, ...(opts.tariffs ? [resolve(opts.tariffs)] : [])])
            if (!existsSync(f)) throw new ConfigError(f, [{ path: '', message: 'file not found' }]);
          const accounts = loadBillingAccounts(accountsFile);
          for (const problem of crossCheckAccounts(accounts, campus.config)) io.err(`warning: ${problem}`);
          if (!deps.openValidatedSource) {
            throw new Error(
              'no VEE source is wired into this command (services/metering/vee); raw registers are never billed',
            );
          }
          const db = openBackofficeDb(backofficePath(campus));
          const clock = deps.clock ?? Date.now;
          const audit = openAuditLog(db, clock, auditKeyPath(campus));
          let source: Awaited<ReturnType<typeof deps.openValidatedSource>> | undefined;
          try {
            // The tariffs in force are the back office's (one source for the CLI, the API and the
            // disclosure); a file is imported only into a database that has none yet.
            const tariffStore = new TariffStore({ db, audit, clock });
            const stored = seedTariffs(tariffStore, tariffsFile);
            if (opts.tariffs) assertFileInForce(stored);
            else if (stored.differs) io.err(`warning: ${stored.differs}`);
            if (stored.imported) io.err(`tariffs: ${tariffsFile} imported as version 1 into the back office`);
            const tariffs = tariffStore.current();
            source = await deps.openValidatedSource(campus, { db, audit });
            const runs = new BillRuns({ db, audit, tariffs, source, timezone, clock });
            // A billed month is closed: asked again, the CLI exports the run as recorded.
            const recorded = runs.latest(period.label);
            if (recorded)
              io.err(`${period.label} was billed in ${recorded.id}: exported as recorded, not re-billed`);
            const run = recorded ?? (await runs.run(cliActor(), { period, accounts }));
            const text = exportRun(run, opts.format, opts.list);
            if (opts.out) {
              mkdirSync(dirname(resolve(opts.out)), { recursive: true });
              writeFileSync(resolve(opts.out), text);
            } else io.out(text);
            io.err(
              `bill run ${run.id} (${period.label}): ${run.lines.length} meters billed, ¥${formatFen(run.totalFen)}; ${run.blocked.length} blocked`,
            );
            for (const b of run.blocked) io.err(`  blocked ${b.account}/${b.meter}: ${b.reasons.join('; ')}`);
          } finally {
            await source?.close?.();
            db.close();
          }
        } catch (err) {
          const bad =
            err instanceof ConfigError ||
            (err instanceof ServiceError &&
              [
                'INVALID_PERIOD',
                'INVALID_ACCOUNTS',
                'INVALID_TARIFF_TABLE',
                'PERIOD_CLOSED',
                'NO_TARIFFS',
                'TARIFF_FILE_DIFFERS',
              ].includes(err.code));
          io.err(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
          io.exitCode(bad ? 1 : 2);
        }
      },
    );
  billing
    .command('invoice-check')
    .description(
      "Check a utility's invoice for a supply point (campus file, billing.supplyPoints) against the campus's validated meters; recorded and audited",
    )
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('--period <period>', 'the invoice period: a month (2026-11) or dates, campus time')
    .requiredOption(
      '--invoice <file>',
      'the invoice (YAML/JSON): supplyPoint, invoiceNo, quantity, amountFen, elements [{ name, amountFen, quantity? }]',
    )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { config: string; period: string; invoice: string; format: 'text' | 'json' }) => {
      try {
        const campus = loadCampus(opts.config);
        const timezone = campus.config.campus.timezone;
        const period = parsePeriod(opts.period, timezone);
        const file = resolve(opts.invoice);
        if (!existsSync(file)) throw new ConfigError(file, [{ path: '', message: 'file not found' }]);
        const invoice: unknown = parseYaml(readFileSync(file, 'utf8'));
        if (!deps.openValidatedSource) {
          throw new Error('no VEE source is wired into this command (services/metering/vee)');
        }
        const db = openBackofficeDb(backofficePath(campus));
        const clock = deps.clock ?? Date.now;
        const audit = openAuditLog(db, clock, auditKeyPath(campus));
        let source: Awaited<ReturnType<typeof deps.openValidatedSource>> | undefined;
        try {
          source = await deps.openValidatedSource(campus, { db, audit });
          const checks = new InvoiceChecks({
            db,
            audit,
            source,
            supplyPoints: campus.config.billing.supplyPoints,
            timezone,
            clock,
          });
          const result = await checks.check(cliActor(), { period, invoice });
          io.out(opts.format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : invoiceText(result));
        } finally {
          await source?.close?.();
          db.close();
        }
      } catch (err) {
        const bad =
          err instanceof ConfigError ||
          (err instanceof ServiceError &&
            ['INVALID_PERIOD', 'INVALID_INVOICE', 'UNKNOWN_SUPPLY_POINT', 'DUPLICATE_INVOICE'].includes(
              err.code,
            ));
        io.err(err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`);
        io.exitCode(bad ? 1 : 2);
      }
    });
  return billing;
}
