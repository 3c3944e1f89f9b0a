import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { startIngest } from '../../services/metering/ingest/ingest.ts';
import type { ReadingWriter } from '../../services/metering/storage.ts';
import { testLogger } from '../helpers/logger.ts';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { waitFor } from '../helpers/readings.ts';
import { goodMessage, registry, sqliteCounts, testPublisher, type Message } from './support.ts';

const METERS = 200;
const reg = registry(METERS);
function* stream(polls: number): Generator<Message> {
  for (let seq = 1; seq <= polls; seq++)
    for (let m = 1; m <= METERS; m++) yield goodMessage(reg, `E-${m}`, seq);
}

describe('ingest against a real mosquitto and SqliteStore', () => {
  let mosquitto: Mosquitto;
  let dir: string;
  beforeEach(async () => {
    mosquitto = await startMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'ingest-it-'));
  });
  afterEach(async () => {
    await mosquitto.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two instances on a shared subscription split the stream and store each reading once', async () => {
    const path = join(dir, 'readings.sqlite');
    const store = SqliteStore.open({ path });
    const deadLetters = SqliteDeadLetterStore.open({ path: join(dir, 'dead.sqlite') });
    const written = [0, 0];
    const instances = [0, 1].map((i) => {
      const writer: ReadingWriter = {
        writeReadings: async (readings) => {
          await store.writeReadings(readings);
          written[i]! += readings.length;
        },
      };
      return startIngest({
        url: mosquitto.url,
        clientId: `ingest-${i}`,
        shareGroup: 'ingest',
        meters: reg,
        writer,
        deadLetters,
        logger: testLogger(),
      });
    });
    await Promise.all(instances.map((x) => x.ready));
    const pub = await testPublisher(mosquitto.url);
    await pub.publishAll(stream(100)); // 20,000
    await pub.close();
    await waitFor(() => sqliteCounts(path).rows === 20_000, 30_000, '20,000 readings stored');
    await waitFor(() => instances.every((x) => x.stats().inFlight === 0), 5000, 'all acked');
    const [a, b] = instances.map((x) => x.stats());
    // Each message went to exactly one instance.
    expect(a!.received + b!.received).toBe(20_000);
    expect(written[0]! + written[1]!).toBe(20_000);
    expect(Math.min(a!.stored, b!.stored)).toBeGreaterThan(20_000 * 0.3);
    const counts = sqliteCounts(path);
    expect(counts).toMatchObject({ rows: 20_000, distinct: 20_000 });
    for (const x of instances) await x.stop();
    await store.close();
    deadLetters.close();
  });

  it('an ingest process killed with SIGKILL mid-stream and restarted loses nothing', async () => {
    const path = join(dir, 'readings.sqlite');
    const args = [mosquitto.url, 'ingest-kill', path, join(dir, 'dead.sqlite'), String(METERS)];
    const children: ChildProcess[] = [];
    const spawnIngest = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/ingest/ingest-child.ts', ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => (out += chunk));
      await waitFor(() => out.includes('ready'), 20_000, 'the ingest child to subscribe');
      return child;
    };
    const kill = async (child: ChildProcess): Promise<void> => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };
    try {
      let child = await spawnIngest();
      const pub = await testPublisher(mosquitto.url);
      // 40,000 readings at about 5,000/s: the kill lands mid-stream, with writes and acks under way.
      const messages = [...stream(200)];
      let sent = 0;
      const publishing = (async () => {
        while (sent < messages.length) {
          await pub.publishAll(messages.slice(sent, sent + 500));
          sent += 500;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await waitFor(() => sent >= 10_000, 20_000, '10,000 published');
      await waitFor(() => sqliteCounts(path).rows > 0, 10_000, 'the first rows');
      await kill(child);
      const atKill = sqliteCounts(path).rows;
      expect(atKill).toBeLessThan(40_000);
      await new Promise((r) => setTimeout(r, 1500)); // published meanwhile: queued in the session
      child = await spawnIngest();
      await publishing;
      await pub.close();
      await waitFor(() => sqliteCounts(path).rows === 40_000, 60_000, 'all 40,000 stored');
      expect(sqliteCounts(path)).toMatchObject({ rows: 40_000, distinct: 40_000 });
      await kill(child);
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }, 120_000);
});
