import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog, type AuditInput } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { ServiceError } from '../../services/platform/errors.ts';
import { parseBillingAccounts } from '../../services/money/billing/accounts.ts';
import { BillRuns } from '../../services/money/billing/bill-run.ts';
import { parsePeriod } from '../../services/money/billing/period.ts';
import { seedTariffs } from '../../services/money/billing/tariff-source.ts';
import { TariffStore } from '../../services/money/billing/tariff-store.ts';
import { charge } from '../../services/money/billing/tariffs.ts';
import { fixtureSource, fixtureTariffInput } from './fixture.ts';
import { backoffice, billing, local, supervisor, TZ } from './support.ts';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
};

const studentRoom = (effectiveFrom: string, price: string) => ({
  utility: 'electricity',
  customerTypes: ['student-room'],
  effectiveFrom,
  unit: 'kWh',
  components: [{ name: 'energy', price }],
});

/** A store holding the fixture table as version 1, on 1 November 2026 in Shanghai. */
function store(audit?: (db: ReturnType<typeof backoffice>['db'], clock: () => number) => AuditLog) {
  const bo = backoffice(local(2026, 11, 1, 9));
  const log = audit ? audit(bo.db, bo.clock) : bo.audit;
  const s = new TariffStore({ db: bo.db, audit: log, clock: bo.clock });
  s.importInitial(fixtureTariffInput, 'fixture');
  return { ...bo, audit: log, s };
}

/** 1 kWh of student-room electricity on a day, priced with the table in force: fen. */
const priceOn = (s: TariffStore, d: number) =>
  charge(s.current(), {
    utility: 'electricity',
    customerType: 'student-room',
    intervals: [{ start: local(2026, 11, d), end: local(2026, 11, d, 1), quantity: 100 }],
  }).totalFen;

describe('the tariff store', () => {
  it('keeps every version append-only: no update, delete or replace, even with SQL', () => {
    const { db, s } = store();
    const p = s.propose(billing, { tariff: studentRoom('2026-11-20', '0.70'), reason: 'notice 31' });
    s.approve(supervisor, p.id);
    for (const sql of [
      "UPDATE tariff_versions SET table_json = '{}' WHERE version = 1",
      'DELETE FROM tariff_versions WHERE version = 2',
      "INSERT OR REPLACE INTO tariff_versions (version, table_json, digest, requested_by, approved_by, approved_at) VALUES (2, '{}', 'x', 'a', 'b', 0)",
      "UPDATE tariff_proposals SET reason = 'x'",
      "UPDATE tariff_decisions SET decided_by = 'someone.else'",
      'DELETE FROM tariff_decisions',
    ])
      expect(() => db.exec(sql), sql).toThrow(/append-only|final/);
    expect(s.versions().map((v) => [v.version, v.approvedBy])).toEqual([
      [2, supervisor.id],
      [1, 'system:import'],
    ]);
    // 100 kWh on the 25th: 0.70 from version 2; on the 18th still 0.61.
    expect(priceOn(s, 25)).toBe(7000);
    expect(priceOn(s, 18)).toBe(6100);
  });

  it('a crash while approving (the audit append fails) leaves no version and no decision', () => {
    let failNext = false;
    class FailingAudit extends AuditLog {
      override append(input: AuditInput) {
        if (failNext && input.action === 'tariffs.approve') throw new Error('disk full');
        return super.append(input);
      }
    }
    const { s } = store((db, clock) => new FailingAudit(db, clock));
    const p = s.propose(billing, { tariff: studentRoom('2026-11-20', '0.70'), reason: 'notice 31' });
    failNext = true;
    expect(() => s.approve(supervisor, p.id)).toThrow('disk full');
    expect(s.currentVersion()).toBe(1);
    expect(s.proposal(p.id).status).toBe('pending');
    expect(priceOn(s, 25)).toBe(6100);
    failNext = false;
    expect(s.approve(supervisor, p.id).version).toBe(2);
  });

  it('an approval that comes after the effective date is refused: prices in force are never rewritten', () => {
    const { s, time } = store();
    const p = s.propose(billing, { tariff: studentRoom('2026-11-05', '0.70'), reason: 'notice 31' });
    time.now = local(2026, 11, 5, 0, 30);
    expect(codeOf(() => s.approve(supervisor, p.id))).toMatch(
      /^TARIFF_CHANGE_IN_PAST: electricity\/student-room from 2026-11-05 is in force already \(today is 2026-11-05\)/,
    );
    expect(s.currentVersion()).toBe(1);
    // The day before, it could have been approved.
    const q = s.propose(billing, { tariff: studentRoom('2026-11-06', '0.70'), reason: 'notice 32' });
    expect(s.approve(supervisor, q.id).version).toBe(2);
  });

  it('refuses a machine, the time zone or tier rule changed, a table changing nothing, and both or neither of table and tariff', () => {
    const { s } = store();
    const token: Actor = { id: 'token:billing-job', kind: 'token', roles: ['billing', 'supervisor'] };
    expect(
      codeOf(() => s.propose(token, { tariff: studentRoom('2026-11-20', '0.7'), reason: 'job' })),
    ).toMatch(/^PERSON_REQUIRED/);
    const p = s.propose(billing, { tariff: studentRoom('2026-11-20', '0.70'), reason: 'notice 31' });
    expect(codeOf(() => s.approve(token, p.id))).toMatch(/^PERSON_REQUIRED/);
    expect(
      codeOf(() => s.propose(billing, { table: { ...fixtureTariffInput, timezone: 'UTC' }, reason: 'zone' })),
    ).toMatch(/^TARIFF_CHANGE_IN_PAST: the time zone is Asia\/Shanghai/);
    expect(
      codeOf(() =>
        s.propose(billing, {
          table: {
            ...fixtureTariffInput,
            tierLimitsWithinMonth: 'pro-rata',
            tariffs: [...fixtureTariffInput.tariffs, studentRoom('2026-12-01', '0.7')],
          },
          reason: 'rule',
        }),
      ),
    ).toMatch(/^TARIFF_CHANGE_IN_PAST: tierLimitsWithinMonth is cumulative/);
    expect(codeOf(() => s.propose(billing, { table: fixtureTariffInput, reason: 'same' }))).toBe(
      'INVALID_TARIFF_TABLE: the proposed table changes no price',
    );
    expect(codeOf(() => s.propose(billing, { reason: 'nothing' }))).toMatch(
      /either a whole table or one tariff/,
    );
    // The same tariff and date twice: the existing schema's message names it.
    expect(
      codeOf(() => s.propose(billing, { tariff: studentRoom('2026-11-16', '0.70'), reason: 'dup' })),
    ).toBe('INVALID_TARIFF_TABLE: two electricity tariffs for student-room take effect on 2026-11-16');
  });

  it('the proposer may withdraw; another billing clerk may not reject; rejecting needs a reason', () => {
    const { s, audit } = store();
    const p = s.propose(billing, { tariff: studentRoom('2026-11-20', '0.70'), reason: 'notice 31' });
    const other: Actor = { id: 'fin.wu', kind: 'user', roles: ['billing'] };
    expect(codeOf(() => s.reject(other, p.id, 'not mine'))).toMatch(/^FORBIDDEN/);
    expect(codeOf(() => s.reject(billing, p.id, ' '))).toMatch(/needs a reason/);
    expect(s.reject(billing, p.id, 'wrong document').status).toBe('rejected');
    expect(audit.query({ action: 'tariffs.withdraw' }).map((e) => e.actor)).toEqual([billing.id]);
    expect(codeOf(() => s.approve(supervisor, p.id))).toMatch(/^TARIFF_PROPOSAL_DECIDED/);
    expect(codeOf(() => s.approve(supervisor, 99))).toMatch(/^TARIFF_PROPOSAL_NOT_FOUND/);
  });

  it('first start: imports a file once; later a differing file is reported, never used; a customer type with no tariff is named', async () => {
    const bo = backoffice(local(2026, 11, 1, 9));
    const s = new TariffStore(bo);
    expect(codeOf(() => s.current())).toMatch(/^NO_TARIFFS/);
    expect(codeOf(() => seedTariffs(s, undefined))).toMatch(/^NO_TARIFFS/);
    expect(codeOf(() => seedTariffs(s, '/nonexistent/tariffs.json'))).toMatch(
      /^INVALID_TARIFF_TABLE: tariff table \/nonexistent\/tariffs.json/,
    );
    expect(s.currentVersion()).toBe(0);
    const file = join(mkdtempSync(join(tmpdir(), 'tariffs-')), 'tariffs.json');
    writeFileSync(file, JSON.stringify(fixtureTariffInput));
    expect(seedTariffs(s, file)).toEqual({ version: 1, imported: true });
    expect(seedTariffs(s, file)).toEqual({ version: 1, imported: false });
    writeFileSync(
      file,
      JSON.stringify({ ...fixtureTariffInput, tariffs: fixtureTariffInput.tariffs.slice(1) }),
    );
    expect(seedTariffs(s, file).differs).toContain('differs from tariff version 1');
    expect(s.currentVersion()).toBe(1);

    const runs = new BillRuns({ ...bo, tariffs: () => s.current(), source: fixtureSource(), timezone: TZ });
    const accounts = parseBillingAccounts({
      accounts: [
        {
          id: 'P-HALL',
          holder: 'Hall',
          customerType: 'public',
          meters: [{ meter: 'E-E1-101', utility: 'electricity' }],
        },
      ],
    });
    const run = await runs.run(billing, { period: parsePeriod('2026-11', TZ), accounts });
    expect(run.lines).toEqual([]);
    expect(run.blocked[0]!.reasons.join(' ')).toContain('TARIFF_NOT_FOUND: no electricity tariff for public');
  });
});
