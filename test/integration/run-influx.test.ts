import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { silentLogger } from '../../gateway/log.ts';
import { startField, type Field } from '../helpers/field.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { freePort } from '../helpers/ports.ts';
import { exited, killHard } from '../helpers/campus-cli.ts';

/** Issue 17 item 1: `campus-energy run --influx <url>` switches the store of every part to a real influxd. */
describe.skipIf(!influxdAvailable())('campus-energy run --influx', () => {
  let field: Field | undefined;
  let influxd: Influxd | undefined;
  let run: ChildProcess | undefined;
  afterAll(async () => {
    await killHard(run);
    await influxd?.dispose();
    await field?.stop();
  });

  it('stores the readings in InfluxDB, not in the embedded SQLite file', async () => {
    [field, influxd] = await Promise.all([
      startField({ concentrators: [{ transport: 'modbus-tcp', meters: 2 }], pollInterval: 500 }),
      startInfluxd(),
    ]);
    const config = join(field.dir, 'campus.yaml');
    writeFileSync(config, field.yaml());
    run = spawn(
      process.execPath,
      [
        'bin/campus-energy.js',
        'run',
        '-c',
        config,
        '--influx',
        influxd.url,
        '--broker-port',
        String(await freePort()),
        '--http',
        `127.0.0.1:${await freePort()}`,
        '--insecure-cookie',
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const store = await InfluxStore.open({
      url: influxd.url,
      database: 'campus_energy',
      logger: silentLogger(),
    });
    try {
      let meters: string[] = [];
      for (let i = 0; i < 300 && meters.length < 2; i++) {
        meters = (await store.latest().catch(() => [])).map((r) => r.meter);
        if (meters.length < 2) await new Promise((r) => setTimeout(r, 300));
      }
      expect(meters.sort()).toEqual([...field.meterIds].sort());
      expect(existsSync(join(field.dir, 'store.sqlite'))).toBe(false);
    } finally {
      await store.close();
    }
    run.kill('SIGTERM');
    await exited(run);
    expect(run.exitCode).toBe(0);
  }, 180_000);
});
