import { describe, expect, it } from 'vitest';
import { aedesAuthorizer, campusAcl, hashPassword, SERVICE_USERS } from '../../adapters/mqtt/acl.ts';
import { startEmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { startLiveHub } from '../../services/metering/live/hub.ts';
import { testLogger } from '../helpers/logger.ts';
import { testCampus } from './support.ts';

describe('live view and the broker ACL', () => {
  it('subscribes as svc/monitor; a principal without read on campus/v1/# is refused, and says so', async () => {
    const campus = testCampus();
    const hashes = new Map([
      [SERVICE_USERS.monitor, hashPassword('m', 1000)],
      [SERVICE_USERS.ingest, hashPassword('i', 1000)],
    ]);
    const broker = await startEmbeddedBroker({ auth: aedesAuthorizer(campusAcl(campus.config), hashes) });
    const store = SqliteStore.open({ path: ':memory:' });
    const start = (username: string, password: string) =>
      startLiveHub({ campus, store, logger: testLogger(), mqtt: { url: broker.url, username, password } });
    const ok = await start(SERVICE_USERS.monitor, 'm');
    const refused = await start(SERVICE_USERS.ingest, 'i');
    try {
      await expect(ok.ready).resolves.toBeUndefined();
      await expect(refused.ready).rejects.toThrow(/refused the live view subscription.*svc\/monitor/);
    } finally {
      await ok.stop();
      await refused.stop();
      await store.close();
      await broker.close();
    }
  });
});
