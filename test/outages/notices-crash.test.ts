import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header } from '../notices/support.ts';

/**
 * A real crash: a back-office process approves an outage and starts mailing its notices; the SMTP
 * server takes the first message whole but holds its answer, and the test kills the process
 * (SIGKILL) while it waits. The next start sends every notice: the one in flight again under the
 * same notice id (at least once; the receiver de-duplicates by it), every other exactly once, and
 * a third start sends nothing.
 */

const CHILD = join(import.meta.dirname, 'notices-child.ts');
let dir: string;
let server: SMTPServer;
let port: number;
const mails: { to: string; id: string }[] = [];
/** While true, the server answers no DATA: the sender waits. */
let hold = false;
let held: Promise<void> = Promise.resolve();
let onHeld: () => void = () => {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outage-notices-crash-'));
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({ to: session.envelope.rcptTo[0]!.address, id: header(raw, 'X-Campus-Notice') });
        if (hold) {
          // Received whole, never answered: the process is killed waiting for the 250.
          onHeld();
          return;
        }
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function run(approve: boolean) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, dir, String(port), ...(approve ? ['approve'] : [])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ out, err }) };
}

describe('outage notices across a crash', () => {
  it('killed while a mail is in flight: the next start sends the rest once and that one again under its id', async () => {
    hold = true;
    held = new Promise<void>((resolve) => (onHeld = resolve));
    const first = run(true);
    await held;
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    hold = false;
    expect(mails).toHaveLength(1);
    const inFlight = mails[0]!;

    const second = run(false);
    expect(await second.exited, second.output().err).toBe(0);
    expect(second.output().out).toContain('sent');
    const byTo = new Map<string, Set<string>>();
    for (const m of mails) byTo.set(m.to, (byTo.get(m.to) ?? new Set()).add(m.id));
    // Every contact told, each under exactly one notice id.
    expect([...byTo.keys()].sort()).toEqual([
      'a@students.example.edu',
      'b@students.example.edu',
      'c@students.example.edu',
    ]);
    for (const ids of byTo.values()) expect(ids.size).toBe(1);
    // Only the one in flight was sent twice, with the same id.
    expect(mails).toHaveLength(4);
    expect(mails.filter((m) => m.to === inFlight.to).map((m) => m.id)).toEqual([inFlight.id, inFlight.id]);

    const third = run(false);
    expect(await third.exited).toBe(0);
    expect(mails).toHaveLength(4);
  });
});
