import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { writeOldFile } from './old-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'campus-sqlite-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the compacting child; kills it with SIGKILL `afterMs` after it started, unless it finished first. */
function runChild(file: string, afterMs: number): Promise<'killed' | 'done'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/storage/compact-child.ts', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!timer && out.includes('started') && Number.isFinite(afterMs))
        timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && out.includes('done')) resolve('done');
      else reject(new Error(`compacting child exited ${code} ${signal}: ${err}`));
    });
  });
}

function counts(file: string): { raw: number; chunks: number } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      raw: db.prepare('SELECT count(*) FROM readings').pluck().get() as number,
      chunks: db.prepare('SELECT count(*) FROM chunks').pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

async function expectEveryReading(file: string, expected: StoredReading[], meters: number): Promise<void> {
  const store = SqliteStore.open({ path: file });
  try {
    for (let m = 0; m < meters; m++) {
      const meter = `E-M-${m}`;
      // toEqual on whole readings: every field, every value, each reading once.
      expect(await store.readings(meter, 0, 2 ** 52)).toEqual(expected.filter((r) => r.meter === meter));
    }
    const marks = await store.seqMarks();
    expect(marks.size).toBe(meters);
  } finally {
    await store.close();
  }
}

describe('moving an old file into chunks, killed midway', () => {
  it('loses nothing and resumes where it stopped, killed at random points', async () => {
    const meters = 30;
    const days = 8;
    const file = path.join(dir, 'old.sqlite');
    const expected = await writeOldFile(file, meters, days);
    const closedChunks = meters * (days - 1);
    // A seeded sequence of kill delays (the child's pace varies with the machine's load; what is
    // asserted holds wherever the kill lands).
    let seed = 20261206;
    const nextDelay = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % 400;
    };
    let kills = 0;
    const seen: number[] = [];
    // Killed runs, then one left to finish: each resumes where the previous one stopped.
    for (let run = 0; run < 7; run++) {
      const last = run === 6;
      const outcome = await runChild(file, last ? Number.POSITIVE_INFINITY : nextDelay());
      const { raw, chunks } = counts(file);
      seen.push(chunks);
      // Every reading is in exactly one place after each kill, and all are there.
      await expectEveryReading(file, expected, meters);
      if (last) expect(outcome).toBe('done');
      if (outcome === 'done') {
        expect(chunks).toBe(closedChunks);
        expect(raw).toBe(meters * 96);
        break;
      }
      kills++;
    }
    if (process.env.KILL_TRACE) console.log('chunks after each run', seen);
    expect(kills).toBeGreaterThan(0);
    // At least one kill landed midway (some days moved, some not), not only before or after.
    expect(seen.some((c) => c > 0 && c < closedChunks)).toBe(true);
    expect(seen.at(-1)).toBe(closedChunks);
  }, 240_000);
});
