import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_USERS } from '../../adapters/mqtt/acl.ts';
import { startCampusBroker, type CampusBroker } from '../../adapters/mqtt/campus-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { createOperationsDesk } from '../../services/backoffice/parts/operations-desk.ts';
import { connectControlMqtt } from '../../services/operations/control/mqtt.ts';
import { createPrepaid } from '../../services/money/prepaid/index.ts';
import { tariffs } from '../prepaid/support.ts';
import { testLogger } from '../helpers/logger.ts';
import { HOUR, operator, setup, supervisor, T0 } from './support.ts';

/**
 * The outage notice on the campus broker with its ACLs, as the back office's control principal
 * publishes it: received retained by a subscriber; and after a crash between the approval's
 * commit and its publish (the first desk had no broker), the next start publishes it.
 */

let broker: CampusBroker;
let dir: string;
const s = setup();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outages-mqtt-'));
  broker = await startCampusBroker({ ...s.campus, dataDir: dir });
});
afterAll(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The retained notices a subscriber gets: the first one waited for, or none within `quietMs`. */
async function retained(quietMs: number): Promise<Record<string, unknown>[]> {
  const client = await mqtt.connectAsync(broker.url, broker.login(SERVICE_USERS.monitor));
  const got: Record<string, unknown>[] = [];
  const first = new Promise<void>((resolve) =>
    client.on('message', (_t, p) => {
      got.push(JSON.parse(p.toString()) as Record<string, unknown>);
      resolve();
    }),
  );
  await client.subscribeAsync('campus/v1/outages/+', { qos: 1 });
  // Absence can only be waited for; presence is waited for until it comes (the test's timeout).
  await (quietMs > 0 ? new Promise((r) => setTimeout(r, quietMs)) : first);
  await client.endAsync();
  return got;
}

describe('outage notices on MQTT', () => {
  it('are published retained by the control principal, and again at the next start after a crash', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    const prepaid = createPrepaid({ db: s.db, audit: s.audit, tariffs, clock: s.clock });
    const deps = {
      campus: s.campus,
      db: s.db,
      audit: s.audit,
      clock: s.clock,
      prepaid,
      store,
      logger: testLogger(),
    };
    // The first process approves with no broker: as if it stopped before publishing.
    const first = createOperationsDesk(deps);
    const o = first.outages.plan(operator, {
      ...{ utility: 'electricity', node: 'E-E2-MAIN', reason: 'Busbar' },
      ...{ startsAt: T0 + 48 * HOUR, endsAt: T0 + 52 * HOUR },
    });
    first.outages.approve(supervisor, o.id);
    await first.stop();
    expect(await retained(300)).toEqual([]);

    const c = broker.login(SERVICE_USERS.control);
    const link = await connectControlMqtt({ ...c, url: c.url, logger: testLogger() });
    const second = createOperationsDesk({ ...deps, link });
    // Retained if published before the subscription, live if after: either way it arrives.
    const got = await retained(0);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      id: o.id,
      state: 'approved',
      accounts: ['ROOM-E2-101', 'ROOM-E2-102', 'ROOM-E2-201', 'ROOM-E2-202'],
    });
    await second.stop();
    await link.close();
    await store.close();
  });
});
