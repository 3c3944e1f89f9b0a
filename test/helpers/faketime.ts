import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's libfaketime (package `faketime`), preloaded into a process whose wall clock a test steps. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/**
 * A wall clock a test can step under a running process, as NTP steps a gateway's clock after a cold
 * start without a real-time clock. The process is started with `env`; `step('-1h')` sets its
 * offset from the real time (libfaketime's relative form: `+0`, `-1h`, `+1d`, `-90s`), read again
 * within a second. Only the wall clock moves: CLOCK_MONOTONIC (what Node's timers and
 * `performance.now()` run on) is left alone, as NTP leaves it.
 * In CI a missing library is a failure, never a skip (CI installs the package).
 */
export interface SteppableClock {
  env: NodeJS.ProcessEnv;
  step(offset: string): void;
}

export function steppableClock(): SteppableClock | { error: string } {
  if (!existsSync(LIBFAKETIME)) {
    const error = `${LIBFAKETIME} is missing: install the Debian package "faketime"`;
    if (process.env.CI) throw new Error(error);
    return { error };
  }
  const file = join(mkdtempSync(join(tmpdir(), 'faketime-')), 'offset');
  writeFileSync(file, '+0\n');
  return {
    env: {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: file,
      // Read the file again at most once a second, not at every clock call.
      FAKETIME_CACHE_DURATION: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
    step(offset: string) {
      if (!/^[+-]\d+[smhdy]?$/.test(offset)) throw new Error(`not a libfaketime offset: ${offset}`);
      writeFileSync(file, `${offset}\n`);
    },
  };
}
