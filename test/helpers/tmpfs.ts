import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small filesystem of its own (tmpfs), so that a test can fill a disk for real and free it
 * again: what the product sees is the kernel's ENOSPC, as on a full SD card in a gateway.
 * Mounting needs root (CI runs as root); elsewhere `mountTmpfs` returns null and says why.
 */
export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk refuses (ENOSPC). */
  fill(): void;
  /** Deletes the filler. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(sizeBytes: number): SmallDisk | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'small-disk-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return {
      error: `cannot mount a tmpfs (${mounted.stderr.trim() || `status ${mounted.status}`}): run as root`,
    };
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      unlinkSync(filler);
    },
    unmount() {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
