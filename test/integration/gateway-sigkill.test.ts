import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropDuplicates,
  subscribeReadings,
  type ReadingSubscription,
} from '../../adapters/mqtt/subscriber.ts';
import { startField, type Field } from '../helpers/field.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { range, seqsByMeter, waitFor } from '../helpers/readings.ts';

/** The gateway as operators run it: the CLI, in its own process. */
function spawnGateway(config: string, mqttUrl: string, outbox: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      'bin/campus-energy.js',
      'gateway',
      '--config',
      config,
      '--gateway',
      'gw1',
      '--mqtt',
      mqttUrl,
      '--outbox',
      outbox,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
}

function outboxCounts(file: string): { messages: number; maxSeq: Map<string, number> } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const { n } = db.prepare('select count(*) as n from messages').get() as { n: number };
    const rows = db.prepare('select meter, max(seq) as seq from messages group by meter').all() as {
      meter: string;
      seq: number;
    }[];
    return { messages: n, maxSeq: new Map(rows.map((r) => [r.meter, r.seq])) };
  } finally {
    db.close();
  }
}

describe('gateway killed with SIGKILL and restarted', () => {
  let field: Field;
  let mosquitto: Mosquitto;
  let sub: ReadingSubscription;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    field = await startField({
      concentrators: [
        { transport: 'modbus-tcp', meters: 20 },
        { transport: 'rtu-over-tcp', meters: 20 },
      ],
      pollInterval: 500,
    });
    mosquitto = await startMosquitto();
    sub = await subscribeReadings({
      url: mosquitto.url,
      topic: 'campus/v1/+/+/+/reading',
      clientId: 'kill-sub',
      clean: false,
    });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    await sub?.close();
    await mosquitto?.dispose();
    await field?.stop();
  });

  it('loses nothing that was in the outbox', async () => {
    const config = join(field.dir, 'campus.yaml');
    writeFileSync(config, field.yaml());
    const outbox = join(field.dir, 'outbox.sqlite');

    child = spawnGateway(config, mosquitto.url, outbox);
    await waitFor(
      () => new Set(sub.readings.map((r) => r.meter)).size === 40,
      30_000,
      'readings from all 40 meters',
    );

    // With the broker away, readings pile up in the outbox; then the gateway dies hard.
    await mosquitto.stop();
    await new Promise((r) => setTimeout(r, 3_000));
    const beforeKill = outboxCounts(outbox);
    expect(beforeKill.messages).toBeGreaterThan(40 * 4);
    child.kill('SIGKILL');
    await exited(child);
    const afterKill = outboxCounts(outbox);
    // Everything committed before the kill is still on disk.
    expect(afterKill.messages).toBeGreaterThanOrEqual(beforeKill.messages);

    await mosquitto.restart();
    child = spawnGateway(config, mosquitto.url, outbox);
    await waitFor(
      () => {
        const seqs = seqsByMeter(dropDuplicates(sub.readings));
        return [...afterKill.maxSeq].every(([meter, max]) => (seqs.get(meter)?.length ?? 0) >= max + 3);
      },
      60_000,
      'the outbox backlog and fresh readings after the restart',
    );
    child.kill('SIGTERM');
    await exited(child);

    // Every seq from 1 through what was in the dead gateway's outbox arrived, in order, and the
    // restarted gateway went on numbering where the dead one stopped.
    const seqs = seqsByMeter(dropDuplicates(sub.readings));
    for (const [meter, max] of afterKill.maxSeq) {
      const got = seqs.get(meter)!;
      expect(got.slice(0, max), meter).toEqual(range(1, max));
      expect(got, meter).toEqual(range(1, got.length));
    }
  }, 120_000);
});
