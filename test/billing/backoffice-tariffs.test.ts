import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../adapters/mqtt/embedded-broker.ts';
import { loadCampus } from '../../config/campus.ts';
import { DEFAULT_TARIFFS_FILE, startBackoffice } from '../../services/backoffice/run.ts';
import { openStore } from '../../services/metering/open-store.ts';
import { TariffStore } from '../../services/money/billing/tariff-store.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { testLogger } from '../helpers/logger.ts';
import { fixtureTariffInput } from './fixture.ts';

/**
 * The back office's first start imports the campus's tariffs.json as version 1 (system:import);
 * a later start never reads a changed file into the store; with no file at all the demo's example
 * table is imported (and said so). The real back office on an embedded broker, no HTTP.
 */
const logger = testLogger();
let broker: EmbeddedBroker;
beforeAll(async () => {
  broker = await startEmbeddedBroker();
});
afterAll(() => broker.close());

async function start(campusFile: string) {
  const campus = loadCampus(campusFile);
  const store = await openStore(campus, logger);
  const bo = await startBackoffice({
    campus,
    mqtt: { url: broker.url },
    store,
    logger,
    http: false,
    detection: false,
  });
  const tariffs = new TariffStore({ db: bo.db, audit: bo.audit });
  return {
    bo,
    tariffs,
    stop: async () => {
      await bo.stop();
      await store.close?.();
    },
  };
}

describe('the back office and the tariff file', () => {
  it('imports tariffs.json once at the first start; a changed file is not read into the store later', async () => {
    const { dir, db } = tempBackoffice('unused.sqlite');
    db.close();
    const file = tempCampusFile(dir);
    const tariffsFile = join(dir, 'tariffs.json');
    writeFileSync(tariffsFile, JSON.stringify(fixtureTariffInput));
    const first = await start(file);
    expect(first.tariffs.versions().map((v) => [v.version, v.source, v.approvedBy])).toEqual([
      [1, tariffsFile, 'system:import'],
    ]);
    expect(first.tariffs.current().versions.get('electricity/student-room')).toHaveLength(2);
    await first.stop();

    writeFileSync(
      tariffsFile,
      JSON.stringify({ ...fixtureTariffInput, tariffs: fixtureTariffInput.tariffs.slice(1) }),
    );
    const second = await start(file);
    expect(second.tariffs.currentVersion()).toBe(1);
    expect(second.tariffs.current().versions.get('electricity/student-room')).toHaveLength(2);
    expect(second.bo.audit.query({ action: 'tariffs.import' })).toHaveLength(1);
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('with no tariffs.json, the demo: the example table is imported as version 1, naming its file', async () => {
    const { dir, db } = tempBackoffice('unused.sqlite');
    db.close();
    const running = await start(tempCampusFile(dir));
    expect(running.tariffs.version(1).source).toBe(DEFAULT_TARIFFS_FILE);
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
