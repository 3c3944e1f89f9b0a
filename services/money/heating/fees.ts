import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { canonicalJson } from '../../platform/audit/canonical-json.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import type { BillRun, MeterBill } from '../billing/bill-run.ts';
import { divRoundHalfUp, toSafeNumber } from '../billing/money.ts';
import { heatingMoneyError } from './errors.ts';
import type { HeatingUnits, UnitRecord } from './units.ts';

/**
 * A heating season's fees (DOMAIN.md "Customers and tariffs"): per unit, the record in force at
 * the season's first day decides — a household pays its certified area × the season's price per
 * m², rounded half up once to the fen; a business or external user pays its contract's amount.
 * The fees are one bill run (`br-heat-<season>`), recorded with a digest of its lines and audited,
 * which post-paid collection publishes, confirms into notices and payroll deductions, and chases
 * like any other: nothing of collection is rebuilt here.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS heating_seasons (
  id TEXT PRIMARY KEY,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS heating_fee_runs (
  id TEXT PRIMARY KEY,
  season TEXT NOT NULL UNIQUE,
  data TEXT NOT NULL
);
`;

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD');
export const SeasonSchema = z
  .object({
    id: z.string().regex(/^\d{4}-\d{4}$/, 'a season is named by its two years, e.g. 2026-2027'),
    firstDay: Day,
    lastDay: Day,
    pricePerM2Fen: z
      .number()
      .int()
      .positive()
      .max(100_000)
      .describe('Fen per m² of certified area for the season'),
  })
  .strict();

export interface HeatingSeason {
  id: string;
  firstDay: string;
  lastDay: string;
  /** Local midnight starting the first day, and ending the last. */
  from: number;
  to: number;
  pricePerM2Fen: number;
  definedBy: string;
  definedAt: number;
}

/** A household's season fee: hundredths of m² × fen per m² ÷ 100, rounded half up once. */
export function areaFeeFen(areaCentiM2: number, pricePerM2Fen: number): number {
  return toSafeNumber(divRoundHalfUp(BigInt(areaCentiM2) * BigInt(pricePerM2Fen), 100n), 'heating fee');
}

export const HEATING_RUN_PREFIX = 'br-heat-';

export interface HeatingFeesDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  timezone: string;
  units: HeatingUnits;
}

export class HeatingFees {
  constructor(private readonly d: HeatingFeesDeps) {
    d.db.exec(SCHEMA);
  }

  defineSeason(actor: Actor, input: unknown): HeatingSeason {
    assertCan(actor, 'heating.fees', 'define a heating season');
    const p = SeasonSchema.safeParse(input);
    if (!p.success) heatingMoneyError('INVALID_SEASON', z.prettifyError(p.error));
    const s = p.data;
    const from = this.midnight(s.firstDay, 0);
    const to = this.midnight(s.lastDay, 1);
    if (to <= from) heatingMoneyError('INVALID_SEASON', `${s.firstDay} is after ${s.lastDay}`);
    const season: HeatingSeason = { ...s, from, to, definedBy: actor.id, definedAt: this.d.clock() };
    return this.d.db.transaction(() => {
      if (this.d.db.prepare('SELECT 1 FROM heating_fee_runs WHERE season = ?').get(s.id))
        heatingMoneyError('SEASON_BILLED', `season ${s.id} is billed; its price no longer changes`);
      const before = this.findSeason(s.id);
      this.d.db
        .prepare(
          'INSERT INTO heating_seasons (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data',
        )
        .run(s.id, JSON.stringify(season));
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.season',
        subject: `heating-season:${s.id}`,
        ...(before ? { before } : {}),
        after: season,
      });
      return season;
    })();
  }

  season(id: string): HeatingSeason {
    return this.findSeason(id) ?? heatingMoneyError('SEASON_NOT_FOUND', `no heating season ${id}`);
  }

  seasons(): HeatingSeason[] {
    return (
      this.d.db.prepare('SELECT data FROM heating_seasons ORDER BY id DESC').pluck().all() as string[]
    ).map((s) => JSON.parse(s) as HeatingSeason);
  }

  /** Computes the season's fees once: a bill run for collection to publish. */
  bill(actor: Actor, seasonId: string): BillRun {
    assertCan(actor, 'heating.fees', "compute a heating season's fees");
    const season = this.season(seasonId);
    const records = this.d.units.allInForce(season.from);
    if (records.length === 0)
      heatingMoneyError(
        'NOTHING_TO_BILL',
        `no unit has a certified area or contract in force on ${season.firstDay}`,
      );
    const lines = records.map((r) => lineOf(r, season));
    const run: BillRun = {
      id: `${HEATING_RUN_PREFIX}${season.id}`,
      period: { label: `heat-${season.id}`, from: season.from, to: season.to },
      ...{ timezone: this.d.timezone, createdBy: actor.id, createdAt: this.d.clock() },
      lines,
      blocked: [],
      accounts: records.map((r) => ({
        ...{ id: r.account, holder: r.holder, customerType: r.customerType },
        ...(r.payrollCode ? { payrollCode: r.payrollCode } : {}),
        meters: [{ meter: r.unit, utility: 'heat' as const }],
      })),
      totalFen: lines.reduce((s, l) => s + l.totalFen, 0),
      digest: createHash('sha256')
        .update(canonicalJson({ lines, blocked: [] }))
        .digest('hex'),
    };
    return this.d.db.transaction(() => {
      if (this.d.db.prepare('SELECT 1 FROM heating_fee_runs WHERE season = ?').get(season.id))
        heatingMoneyError('SEASON_BILLED', `the fees of season ${season.id} were computed already`);
      this.d.db
        .prepare('INSERT INTO heating_fee_runs (id, season, data) VALUES (?, ?, ?)')
        .run(run.id, season.id, JSON.stringify(run));
      this.d.audit.append({
        actor: actor.id,
        action: 'heating.fees',
        subject: `bill-run:${run.id}`,
        after: { season: season.id, units: lines.length, totalFen: run.totalFen, digest: run.digest },
      });
      return run;
    })();
  }

  /** The season's fee run, as collection's bill-run source asks for it. */
  run(id: string): BillRun | undefined {
    const data = this.d.db.prepare('SELECT data FROM heating_fee_runs WHERE id = ?').pluck().get(id) as
      string | undefined;
    return data === undefined ? undefined : (JSON.parse(data) as BillRun);
  }

  runs(): BillRun[] {
    return (
      this.d.db.prepare('SELECT data FROM heating_fee_runs ORDER BY season DESC').pluck().all() as string[]
    ).map((s) => JSON.parse(s) as BillRun);
  }

  private findSeason(id: string): HeatingSeason | undefined {
    const data = this.d.db.prepare('SELECT data FROM heating_seasons WHERE id = ?').pluck().get(id) as
      string | undefined;
    return data === undefined ? undefined : (JSON.parse(data) as HeatingSeason);
  }

  private midnight(day: string, plusDays: number): number {
    const [y, m, d] = day.split('-').map(Number) as [number, number, number];
    return localTimeToUtc(this.d.timezone, y, m, d + plusDays, 0);
  }
}

function lineOf(r: UnitRecord, season: HeatingSeason): MeterBill {
  const area = r.basis.kind === 'area';
  const totalFen = area
    ? areaFeeFen((r.basis as { areaCentiM2: number }).areaCentiM2, season.pricePerM2Fen)
    : (r.basis as { seasonFen: number }).seasonFen;
  return {
    ...{ account: r.account, holder: r.holder, customerType: r.customerType, payrollCode: r.payrollCode },
    ...{ meter: r.unit, utility: 'heat', unit: 'm2' },
    ...{ opening: null, openingEstimated: false, closing: null, closingEstimated: false },
    // The quantity billed is the certified area (m² in thousandths, as every line's quantity).
    quantityMilli: r.basis.kind === 'area' ? r.basis.areaCentiM2 * 10 : 0,
    ...{ estimatedMilli: 0, editedMilli: 0, estimatedShare: null, registerDifferenceMilli: null, flags: [] },
    components: [
      {
        name:
          r.basis.kind === 'area'
            ? `heating-area ${r.basis.certificate}`
            : `heating-contract ${r.basis.contract}`,
        amountFen: totalFen,
      },
    ],
    totalFen,
    versions: [],
  };
}
