import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

export const INFLUXD_BIN = '/usr/bin/influxd';

/**
 * Whether the InfluxDB tier can run here. In CI a missing influxd is a failure, never a skip: CI
 * installs the `influxdb` package, so its absence means a broken set-up that must not pass quietly.
 * Tests use `describe.skipIf(!influxdAvailable())`.
 */
export function influxdAvailable(): boolean {
  if (existsSync(INFLUXD_BIN)) return true;
  if (process.env.CI) {
    throw new Error(`${INFLUXD_BIN} is missing: CI must install the Debian package "influxdb"`);
  }
  return false;
}

/** `restart()` keeps the ports and the data, meta and WAL dirs; after `kill()` only what the WAL holds survives (every acknowledged write). */
export interface Influxd extends ServerProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  dataDir: string;
}

/**
 * Starts the real influxd (1.x) on 127.0.0.1 with a generated config: free ports for HTTP and for
 * the RPC (backup/restore) listener, which otherwise defaults to 8088 and collides between tests
 * running in parallel; data, meta and WAL in a temp dir; no usage reporting, no `_internal`
 * monitoring database, and only errors logged. Resolves once `/ping` answers 204.
 */
export async function startInfluxd(): Promise<Influxd> {
  if (!influxdAvailable()) throw new Error(`${INFLUXD_BIN} is not installed`);
  const port = await freePort();
  const rpcPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'influxd-'));
  for (const sub of ['meta', 'data', 'wal']) mkdirSync(join(dataDir, sub));
  const confPath = join(dataDir, 'influxdb.conf');
  writeFileSync(
    confPath,
    [
      'reporting-enabled = false',
      `bind-address = "127.0.0.1:${rpcPort}"`,
      '[meta]',
      `  dir = "${join(dataDir, 'meta')}"`,
      '  logging-enabled = false',
      '[data]',
      `  dir = "${join(dataDir, 'data')}"`,
      `  wal-dir = "${join(dataDir, 'wal')}"`,
      '  query-log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[subscriber]',
      '  enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${port}"`,
      '  log-enabled = false',
      '  suppress-write-log = true',
      '  pprof-enabled = false',
      '[logging]',
      '  level = "error"',
      '  suppress-logo = true',
      // Retention enforced every second (default 30 min), so a test sees influxd drop shard groups.
      '[retention]',
      '  check-interval = "1s"',
      '[continuous_queries]',
      '  log-enabled = false',
      '  run-interval = "1s"',
      '',
    ].join('\n'),
  );

  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess({
    name: 'influxd',
    bin: INFLUXD_BIN,
    args: ['-config', confPath],
    dataDir,
    ready: () => pings(url),
    startTimeoutMs: 20_000,
    what: `answer /ping on ${port}`,
  });
  return { url: url, port, dataDir, ...server };
}

async function pings(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}
