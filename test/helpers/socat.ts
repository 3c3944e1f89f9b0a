import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { waitFor } from './readings.ts';

/** Whether socat is installed; in CI (which installs it) a missing socat is a failure, never a skip. */
export function socatAvailable(): boolean {
  const ok = spawnSync('socat', ['-V']).status === 0;
  if (!ok && process.env.CI) throw new Error('socat is required in CI (apt-get install socat)');
  return ok;
}

/** A connected pair of pseudo-terminals at the two paths, as a real serial cable would join them. */
export async function startPtyPair(a: string, b: string): Promise<{ close(): void }> {
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: 'ignore',
  });
  await waitFor(() => existsSync(a) && existsSync(b), 5_000, 'socat pseudo-terminals');
  return { close: () => void socat.kill() };
}
