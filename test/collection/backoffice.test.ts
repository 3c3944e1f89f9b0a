import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { loadCampus } from '../../config/campus.ts';
import { startBackoffice } from '../../services/backoffice/run.ts';
import { openStore } from '../../services/metering/open-store.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { testLogger } from '../helpers/logger.ts';

/**
 * The real back office (example campus, embedded broker, HTTP on a free port) serves collection
 * and reconciliation with the campus file's collection rules, in its OpenAPI document.
 */
const logger = testLogger();
let broker: EmbeddedBroker;
beforeAll(async () => {
  broker = await startEmbeddedBroker();
});
afterAll(() => broker.close());

describe('the back office', () => {
  it('wires collection and reconciliation with the campus rules and documents their routes', async () => {
    const { dir, db } = tempBackoffice('unused.sqlite');
    db.close();
    const campus = loadCampus(tempCampusFile(dir));
    const store = await openStore(campus, logger);
    const bo = await startBackoffice({
      campus,
      mqtt: { url: broker.url },
      store,
      logger,
      http: { host: '127.0.0.1', port: 0, secureCookie: false },
      detection: false,
    });
    try {
      expect(campus.config.collection.penalty).toMatchObject({
        mode: 'rate',
        ratePer10kPerDay: 5,
        graceDays: 15,
      });
      expect(bo.collection.collection.timezone).toBe(campus.config.campus.timezone);
      const doc = (await (await fetch(`${bo.url}/openapi.json`)).json()) as { paths: Record<string, object> };
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/api/collection/payments', '/api/reconciliation/reports/{id}/sign']),
      );
      expect((await fetch(`${bo.url}/api/collection/arrears`)).status).toBe(401);
    } finally {
      await bo.stop();
      await store.close?.();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
