import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FIRST_SEQ, Outbox } from '../../gateway/outbox/outbox.ts';
import { range } from '../helpers/readings.ts';

const writer = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has reported `minReports` commits plus a random extra, then SIGKILLs it. */
async function runAndKill(path: string, minReports: number): Promise<Record<string, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let buffered = '';
  let reports = 0;
  let lastReport: Record<string, number> = {};
  const killAt = minReports + Math.floor(Math.random() * minReports);
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, sig) => resolve(sig)),
  );
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      lastReport = JSON.parse(line) as Record<string, number>;
      reports += 1;
    }
    if (reports >= killAt && child.exitCode === null && !child.killed) child.kill('SIGKILL');
  });
  const signal = await exited;
  expect(signal, `writer should have been killed, stderr:\n${stderr}`).toBe('SIGKILL');
  return lastReport;
}

it('keeps every reading the writer reported committed when it is SIGKILLed', async () => {
  const path = join(dir, 'outbox.sqlite');
  for (let round = 0; round < 3; round++) {
    const reported = await runAndKill(path, 200);
    expect(Object.keys(reported).length).toBeGreaterThan(0);

    const outbox = Outbox.open({ path, maxBytes: 1_000_000_000 });
    const rows = outbox.peek(0, 10_000_000);
    for (const [meter, lastSeq] of Object.entries(reported)) {
      const seqs = rows.filter((r) => r.meter === meter).map((r) => r.seq);
      // Everything reported is there, and anything committed after the last report follows it
      // without a gap.
      expect(seqs.slice(0, lastSeq)).toEqual(range(FIRST_SEQ, lastSeq));
      expect(seqs).toEqual(range(FIRST_SEQ, seqs.length));
      expect(outbox.nextSeq(meter)).toBe(seqs.length + 1);
    }
    expect(outbox.stats().messages).toBe(rows.length);
    console.log(`crash round ${round}: ${rows.length} rows, last reported ${JSON.stringify(reported)}`);
    outbox.close();
  }
});
