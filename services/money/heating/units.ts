import { z } from 'zod';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { localTimeToUtc } from '../../metering/consumption/zone.ts';
import { PayrollCode } from '../billing/accounts.ts';
import { CUSTOMER_TYPES, type CustomerType } from '../billing/tariffs.ts';
import { heatingMoneyError } from './errors.ts';

/**
 * Who heats which unit and on what basis (DOMAIN.md: "Heating is charged per heated area for the
 * season (area is certified per unit), by contract for businesses and external users"). Each
 * record is dated (in force from a local day) and attributed; a change is a new record, never an
 * update, so every certificate a unit ever had stays readable and a season's fee can always be
 * traced to the record in force at its start. Areas are integer hundredths of a square metre.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS heating_unit_records (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  unit TEXT NOT NULL,
  valid_from INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS heating_unit_records_unit ON heating_unit_records (unit, valid_from);
`;

/** Customers heated by contract; every other type is charged by certified area. */
export const CONTRACT_TYPES: readonly CustomerType[] = ['business', 'external'];

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD');
export const UnitRecordSchema = z
  .object({
    unit: z.string().min(1).max(64).describe("The unit's heat meter in the campus file"),
    account: z.string().trim().min(1).max(64),
    holder: z.string().trim().min(1).max(200),
    customerType: z.enum(CUSTOMER_TYPES),
    payrollCode: PayrollCode.optional().describe('Staff: the fee is deducted from salary'),
    validFrom: Day.describe('The local day the record is in force from'),
    areaCentiM2: z
      .number()
      .int()
      .positive()
      .max(100_000_000)
      .optional()
      .describe('Certified heated area in hundredths of m² (households)'),
    certificate: z.string().trim().min(1).max(64).optional().describe("The area certificate's number"),
    contract: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .optional()
      .describe('Heating contract number (business, external)'),
    seasonFen: z
      .number()
      .int()
      .nonnegative()
      .max(100_000_000)
      .optional()
      .describe('Contract amount per season, fen'),
    reason: z.string().trim().min(1).max(500).describe('Why: first certification, re-measured, new contract'),
  })
  .strict();
export type UnitRecordInput = z.input<typeof UnitRecordSchema>;

export interface UnitRecord {
  id: number;
  unit: string;
  account: string;
  holder: string;
  customerType: CustomerType;
  payrollCode: string | null;
  validFrom: number;
  validFromDay: string;
  basis:
    | { kind: 'area'; areaCentiM2: number; certificate: string }
    | { kind: 'contract'; contract: string; seasonFen: number };
  reason: string;
  recordedBy: string;
  recordedAt: number;
}

export interface HeatingUnitsDeps {
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  timezone: string;
  /** Whether an id is a heat meter of the campus. */
  isHeatMeter: (id: string) => boolean;
}

export class HeatingUnits {
  constructor(private readonly d: HeatingUnitsDeps) {
    d.db.exec(SCHEMA);
  }

  /** Records a certificate or contract in force from a day; the earlier ones stay as history. */
  record(actor: Actor, input: unknown): UnitRecord {
    assertCan(actor, 'heating.units', 'certify a heated area or record a heating contract');
    const parsed = UnitRecordSchema.safeParse(input);
    if (!parsed.success) heatingMoneyError('INVALID_UNIT_RECORD', z.prettifyError(parsed.error));
    const r = parsed.data;
    if (!this.d.isHeatMeter(r.unit))
      heatingMoneyError('INVALID_UNIT_RECORD', `${r.unit} is not a heat meter of the campus`);
    const basis = basisOf(r);
    const [y, m, day] = r.validFrom.split('-').map(Number) as [number, number, number];
    const validFrom = localTimeToUtc(this.d.timezone, y, m, day, 0);
    const rec: Omit<UnitRecord, 'id'> = {
      ...{ unit: r.unit, account: r.account, holder: r.holder, customerType: r.customerType },
      ...{
        payrollCode: r.payrollCode ?? null,
        validFrom,
        validFromDay: r.validFrom,
        basis,
        reason: r.reason,
      },
      ...{ recordedBy: actor.id, recordedAt: this.d.clock() },
    };
    return this.d.db.transaction(() => {
      const before = this.inForce(r.unit, validFrom);
      const id = Number(
        this.d.db
          .prepare('INSERT INTO heating_unit_records (unit, valid_from, data) VALUES (?, ?, ?)')
          .run(r.unit, validFrom, JSON.stringify(rec)).lastInsertRowid,
      );
      this.d.audit.append({
        actor: actor.id,
        action: basis.kind === 'area' ? 'heating.area-certified' : 'heating.contract-recorded',
        subject: `heating-unit:${r.unit}`,
        ...(before ? { before: { record: before.id, basis: before.basis } } : {}),
        after: { record: id, ...rec },
        reason: r.reason,
      });
      return { id, ...rec };
    })();
  }

  /** The record in force for a unit at `at`: the latest valid from at or before it (the later entry on a tie). */
  inForce(unit: string, at: number): UnitRecord | undefined {
    const r = this.d.db
      .prepare(
        'SELECT id, data FROM heating_unit_records WHERE unit = ? AND valid_from <= ? ORDER BY valid_from DESC, id DESC LIMIT 1',
      )
      .get(unit, at) as { id: number; data: string } | undefined;
    return r ? { id: r.id, ...(JSON.parse(r.data) as Omit<UnitRecord, 'id'>) } : undefined;
  }

  /** Every record of a unit, oldest first: its certificate history. */
  history(unit: string): UnitRecord[] {
    return (
      this.d.db
        .prepare('SELECT id, data FROM heating_unit_records WHERE unit = ? ORDER BY valid_from, id')
        .all(unit) as { id: number; data: string }[]
    ).map((r) => ({ id: r.id, ...(JSON.parse(r.data) as Omit<UnitRecord, 'id'>) }));
  }

  /** Every unit's record in force at `at`, by unit. */
  allInForce(at: number): UnitRecord[] {
    const units = this.d.db
      .prepare('SELECT DISTINCT unit FROM heating_unit_records ORDER BY unit')
      .pluck()
      .all() as string[];
    return units.map((u) => this.inForce(u, at)).filter((r): r is UnitRecord => r !== undefined);
  }
}

function basisOf(r: z.infer<typeof UnitRecordSchema>): UnitRecord['basis'] {
  if (CONTRACT_TYPES.includes(r.customerType)) {
    if (!r.contract || r.seasonFen === undefined)
      heatingMoneyError(
        'INVALID_UNIT_RECORD',
        `a ${r.customerType} heats by contract: contract and seasonFen are needed`,
      );
    if (r.areaCentiM2 !== undefined)
      heatingMoneyError('INVALID_UNIT_RECORD', `a ${r.customerType} is charged by contract, not by area`);
    return { kind: 'contract', contract: r.contract, seasonFen: r.seasonFen };
  }
  if (r.areaCentiM2 === undefined || !r.certificate)
    heatingMoneyError(
      'INVALID_UNIT_RECORD',
      `a ${r.customerType} is charged by certified area: areaCentiM2 and certificate are needed`,
    );
  if (r.contract !== undefined || r.seasonFen !== undefined)
    heatingMoneyError('INVALID_UNIT_RECORD', `a ${r.customerType} is charged by area, not by contract`);
  return { kind: 'area', areaCentiM2: r.areaCentiM2, certificate: r.certificate };
}
