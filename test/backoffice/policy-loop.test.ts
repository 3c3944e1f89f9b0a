import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { POLICY_AUDIT, createPolicyLoop, type PolicyLoop } from '../../services/backoffice/policy-loop.ts';
import type { SignedRelayCommand } from '../../services/operations/control/commands.ts';
import { POLICY_ACTOR, RelayControl } from '../../services/operations/control/relay-control.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import type { ReadingStore, StoredReading } from '../../services/metering/storage.ts';
import { testLogger } from '../helpers/logger.ts';
import { testKeys } from '../control/support.ts';
import { clerk, local, supervisor, tariffs } from '../prepaid/support.ts';

/**
 * The policy loop on its own, with a movable clock and a store of invented readings: what it
 * debits, when it raises, holds and withdraws relay requests, how it reads the supply state, and
 * that it says each thing once.
 */

const HOUR = 3_600_000;
const ORIGIN = Date.UTC(2025, 10, 1);

/** Meters drawing a steady 0.5 kW (12 kWh a day, 732 fen for a student room), read hourly. */
function steadyStore(latest: StoredReading[] = []): ReadingStore {
  return {
    async writeReadings() {},
    async latest(meters) {
      return latest.filter((r) => !meters || meters.includes(r.meter));
    },
    async series(q) {
      const out = [];
      for (const meter of q.meters)
        for (let ts = Math.ceil(q.from / HOUR) * HOUR; ts < q.to; ts += HOUR)
          out.push({ meter, ts, value: 1000 + (0.5 * (ts - ORIGIN)) / HOUR });
      return out;
    },
    async readings() {
      return [];
    },
    async close() {},
  };
}

function relayReading(meter: string, ts: number, closed: boolean): StoredReading {
  return {
    meter,
    ts,
    seq: 1,
    quality: 'good',
    values: { relay_closed: closed ? 1 : 0, power_kw: 0 },
    site: 'east',
    gateway: 'gw1',
    kind: 'electricity',
  };
}

describe('prepaid policy loop', () => {
  const time = { now: local(2025, 11, 21, 10) }; // a Friday
  let prepaid: Prepaid;
  let control: RelayControl;
  let audit: AuditLog;
  let loop: PolicyLoop | undefined;
  let sent: SignedRelayCommand[];
  let db: ReturnType<typeof openBackofficeDb>;

  function start(store: ReadingStore) {
    loop = createPolicyLoop({
      prepaid,
      control,
      audit,
      store,
      logger: testLogger(),
      timezone: tariffs.timezone,
      hasRelay: (m) => m.startsWith('E-'),
      clock: () => time.now,
      intervalMs: 3_600_000,
    });
    return loop;
  }
  const open = (id: string, meter: string, topUpFen: number) => {
    prepaid.openAccount(clerk, { id, customerType: 'student-room', holder: id, meters: [meter] });
    prepaid.verifyTariffType(supervisor, id);
    prepaid.topUp(clerk, { account: id, amountFen: topUpFen, method: 'cash', reference: `R-${id}` });
  };
  const actions = (account: string) =>
    audit.query({ subject: `account:${account}`, action: 'prepaid.' }).map((e) => e.action);

  beforeEach(() => {
    time.now = local(2025, 11, 21, 10);
    db = openBackofficeDb(':memory:');
    audit = new AuditLog(db, () => time.now);
    prepaid = new Prepaid({ db, audit, tariffs, clock: () => time.now });
    sent = [];
    control = new RelayControl({
      db,
      audit,
      clock: () => time.now,
      signingKey: testKeys().privateKey,
      ackKeys: () => undefined,
      locate: (m) => (m.startsWith('E-') ? { site: 'east', gateway: 'gw1', hasRelay: true } : undefined),
      send: async (c) => {
        sent.push(c);
      },
    });
  });
  afterEach(async () => {
    await loop?.stop();
    db.close();
  });

  it('debits ended days, holds a cut-off over the weekend, raises it on Monday once, withdraws it when paid', async () => {
    open('R1', 'E-1', 500);
    const policy = start(steadyStore());

    // Friday: nothing has ended yet; 500 fen is at the second alarm level, said once.
    await policy.runOnce();
    await policy.runOnce();
    expect(prepaid.ledger('R1').filter((e) => e.type === 'debit')).toEqual([]);
    expect(actions('R1')).toEqual([POLICY_AUDIT.alarm]);

    // Saturday: Friday is debited (732 fen); the cut-off is due but held for the weekend.
    time.now = local(2025, 11, 22, 10);
    await policy.runOnce();
    await policy.runOnce();
    expect(prepaid.balance('R1')).toBe(500 - 732);
    expect(control.list()).toEqual([]);
    expect(actions('R1')).toEqual([POLICY_AUDIT.alarm, POLICY_AUDIT.held]);
    expect(audit.query({ action: POLICY_AUDIT.held })[0]?.after).toMatchObject({ hold: 'weekend' });

    // Monday 10:00: Saturday and Sunday debited, one cut-off request raised and no second one.
    time.now = local(2025, 11, 24, 10);
    await policy.runOnce();
    await policy.runOnce();
    expect(prepaid.balance('R1')).toBe(500 - 3 * 732);
    const [req, ...more] = control.list();
    expect(more).toEqual([]);
    expect(req).toMatchObject({ meter: 'E-1', action: 'open', state: 'pending', requestedBy: POLICY_ACTOR });

    // Paid before a supervisor got to it: the request is withdrawn, nothing is restored.
    prepaid.topUp(clerk, { account: 'R1', amountFen: 5_000, method: 'cash', reference: 'R-R1-2' });
    await policy.runOnce();
    expect(control.get(req!.id)).toMatchObject({ state: 'cancelled', decidedBy: POLICY_ACTOR });
    expect(control.list()).toHaveLength(1);
    expect(actions('R1')).toEqual([POLICY_AUDIT.alarm, POLICY_AUDIT.held, POLICY_AUDIT.alarmCleared]);
    expect(sent).toEqual([]);
  });

  it('withdraws a cut-off still waiting for approval when friendly hours begin, and raises it again after', async () => {
    open('R1', 'E-1', 100);
    time.now = local(2025, 11, 25, 10); // Tuesday: four days debited since Friday
    const policy = start(steadyStore());
    await policy.runOnce();
    const [first] = control.list({ state: 'pending' });
    expect(first).toBeDefined();

    time.now = local(2025, 11, 25, 22, 30);
    await policy.runOnce();
    expect(control.get(first!.id).state).toBe('cancelled');
    expect(control.list({ state: 'pending' })).toEqual([]);

    time.now = local(2025, 11, 26, 8, 5);
    await policy.runOnce();
    expect(control.list({ state: 'pending' })).toHaveLength(1);
  });

  it('takes a relay reading as the supply state and restores at once under a standing approval', async () => {
    open('R2', 'E-2', 100);
    // The relay reads open though the control service never moved it (opened at the meter).
    const policy = start(steadyStore([relayReading('E-2', time.now - 60_000, false)]));
    control.grantPolicyApproval(supervisor, {
      scope: { actions: ['close'], sites: ['east'] },
      reason: 'restores after payment need no second look',
    });
    await policy.runOnce();
    const [restore] = control.list();
    expect(restore).toMatchObject({ meter: 'E-2', action: 'close', state: 'sent', source: 'policy' });
    expect(restore!.decidedBy).toMatch(/^policy-approval:/);
    expect(sent).toHaveLength(1);
    // Alarms speak of a supplied meter only; this one was off.
    expect(actions('R2')).toEqual([]);
  });

  it('leaves accounts whose tariff type is not verified alone', async () => {
    prepaid.openAccount(clerk, { id: 'R3', customerType: 'student-room', holder: 'R3', meters: ['E-3'] });
    time.now = local(2025, 11, 25, 10);
    expect(await start(steadyStore()).runOnce()).toEqual([]);
    expect(prepaid.ledger('R3')).toEqual([]);
  });
});
