import { afterEach, describe, expect, it } from 'vitest';
import { createPolicyLoop, type PolicyLoop } from '../../services/backoffice/policy-loop.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import type { ReadingStore, StoredReading } from '../../services/metering/storage.ts';
import { commandAckTopic, type SignedRelayCommand } from '../../services/operations/control/commands.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { testLogger } from '../helpers/logger.ts';
import { clerk, local, supervisor, tariffs } from '../prepaid/support.ts';
import { gatewayKeys, signedAck, testKeys } from './support.ts';

/**
 * The prepaid policy after an armed restore (DL/T 645 allow closing): the relay stays open until
 * the student presses the button, and that is not a cut-off to restore again — without this each
 * policy pass under a standing approval sent one more "allow closing". When the credit runs out
 * again, the armed room is cut off like any supplied one.
 */
const HOUR = 3_600_000;
const ORIGIN = Date.UTC(2025, 10, 1);

/** A room drawing a steady 0.5 kW, read hourly, whose newest relay reading says open. */
function store(relayOpenAt: () => number): ReadingStore {
  const reading = (): StoredReading => ({
    meter: 'E-2',
    ts: relayOpenAt(),
    seq: 1,
    quality: 'good',
    values: { relay_closed: 0, power_kw: 0 },
    site: 'east',
    gateway: 'gw1',
    kind: 'electricity',
  });
  return {
    async writeReadings() {},
    async latest(meters) {
      return !meters || meters.includes('E-2') ? [reading()] : [];
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

describe('the prepaid policy after an armed restore', () => {
  let loop: PolicyLoop | undefined;
  afterEach(async () => {
    await loop?.stop();
  });

  it('sends one restore, not one per pass, and cuts the room off when the credit runs out again', async () => {
    const time = { now: local(2025, 11, 24, 10) }; // a Monday, outside friendly hours
    const db = openBackofficeDb(':memory:');
    const audit = new AuditLog(db, () => time.now);
    const prepaid = new Prepaid({ db, audit, tariffs, clock: () => time.now });
    const sent: SignedRelayCommand[] = [];
    const control = new RelayControl({
      db,
      audit,
      clock: () => time.now,
      signingKey: testKeys().privateKey,
      ackKeys: (_site, gateway) => (gateway === 'gw1' ? gatewayKeys.gw1.publicKey : undefined),
      locate: (m) => (m.startsWith('E-') ? { site: 'east', gateway: 'gw1', hasRelay: true } : undefined),
      send: async (c) => {
        sent.push(c);
      },
    });
    control.grantPolicyApproval(supervisor, {
      scope: { actions: ['open', 'close'], sites: ['east'] },
      reason: 'the prepaid policy acts at once',
    });
    prepaid.openAccount(clerk, { id: 'R2', customerType: 'student-room', holder: 'R2', meters: ['E-2'] });
    prepaid.verifyTariffType(supervisor, 'R2');
    prepaid.topUp(clerk, { account: 'R2', amountFen: 5_000, method: 'cash', reference: 'R-R2' });
    // The relay reads open, newer than anything the control service did: the policy restores it.
    loop = createPolicyLoop({
      prepaid,
      control,
      audit,
      store: store(() => time.now - 1_000),
      logger: testLogger(),
      timezone: tariffs.timezone,
      hasRelay: (m) => m.startsWith('E-'),
      clock: () => time.now,
      intervalMs: HOUR,
    });
    await loop.runOnce();
    expect(sent.map((c) => c.action)).toEqual(['close']);
    const ack = signedAck({
      id: sent[0]!.id,
      meter: 'E-2',
      action: 'close',
      ok: false,
      armed: true,
      observed: 'open',
    });
    expect(control.handleAck(commandAckTopic('east', 'gw1', 'E-2'), ack)).toMatchObject({ armed: true });

    // Minutes later the student has not pressed the button; the meter still reads open.
    for (const minutes of [5, 10, 30]) {
      time.now += minutes * 60_000;
      await loop.runOnce();
    }
    expect(sent.map((c) => c.action)).toEqual(['close']);
    expect(control.list({ meter: 'E-2' }).map((r) => r.state)).toEqual(['armed']);

    // Days later the credit is gone: the armed room is cut off (trip), like a supplied one.
    time.now = local(2025, 12, 3, 10);
    await loop.runOnce();
    expect(prepaid.balance('R2')).toBeLessThan(0);
    expect(sent.map((c) => c.action)).toEqual(['close', 'open']);
    db.close();
  });
});
