import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { LoadedCampus } from '../../config/campus.ts';
import type { ReadingStore } from './storage.ts';
import { zoneOffset } from './consumption/zone.ts';

/**
 * The campus's reading store: InfluxDB when the campus file names one, else the embedded SQLite
 * file under dataDir. Every service gets its store from here, behind the one interface.
 */
export async function openStore(campus: LoadedCampus, logger: Logger): Promise<ReadingStore> {
  const { sqlite } = campus.config.storage;
  // Daily roll-ups start at the campus's midnight (a fixed offset, taken now: exact for zones
  // without daylight saving, such as Asia/Shanghai).
  const dailyUtcOffsetMinutes = zoneOffset(Date.now(), campus.config.campus.timezone) / 60_000;
  // `campus-energy run --influx <url>` switches every part to an InfluxDB the file does not name.
  const override = process.env.CAMPUS_INFLUX_URL;
  const influx = override
    ? {
        ...campus.config.storage.influx,
        url: override,
        database: campus.config.storage.influx?.database ?? 'campus_energy',
      }
    : campus.config.storage.influx;
  if (influx) {
    const password = influx.passwordEnv ? process.env[influx.passwordEnv] : undefined;
    if (influx.passwordEnv && password === undefined) {
      throw new Error(
        `storage.influx.passwordEnv names ${influx.passwordEnv}, which is not set in the environment`,
      );
    }
    return InfluxStore.open({
      url: withCredentials(influx.url, influx.username, password),
      database: influx.database,
      dailyUtcOffsetMinutes,
      logger,
    });
  }
  const path = resolve(campus.dataDir, sqlite.path);
  mkdirSync(dirname(path), { recursive: true });
  return SqliteStore.open({ path, dailyUtcOffsetMinutes });
}

function withCredentials(url: string, username: string | undefined, password: string | undefined): string {
  if (!username) return url;
  const u = new URL(url);
  u.username = username;
  if (password !== undefined) u.password = password;
  return u.toString();
}
