import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Issue 17 item 3: the shipped systemd units are valid (systemd-analyze verify), hardened
 * (systemd-analyze security, offline: exposure at most 2.0 of 10), and start a command the CLI
 * really has.
 */

const DIR = fileURLToPath(new URL('../../config/systemd/', import.meta.url));
const units = readdirSync(DIR).filter((f) => f.endsWith('.service'));
const scratch = mkdtempSync(join(tmpdir(), 'units-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A template is checked as an instance of it, as systemd would load it. */
function asLoaded(unit: string): string {
  const path = join(scratch, unit.replace('@.service', '@gw-east-1.service'));
  copyFileSync(join(DIR, unit), path);
  return path;
}

describe('shipped systemd units', () => {
  it('ships the gateway and the all-in-one unit', () => {
    expect(units.sort()).toEqual(['campus-energy-gateway@.service', 'campus-energy.service']);
  });

  for (const unit of units) {
    it(`${unit}: verifies, is hardened, and runs a real subcommand`, () => {
      const path = asLoaded(unit);
      const verify = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      expect(verify.stderr.trim(), 'systemd-analyze verify').toBe('');
      expect(verify.status).toBe(0);

      const security = spawnSync('systemd-analyze', ['security', '--offline=true', path], {
        encoding: 'utf8',
      });
      const exposure = Number(/Overall exposure level for .*: ([\d.]+)/.exec(security.stdout)?.[1]);
      expect(exposure, security.stdout.slice(-400)).toBeLessThanOrEqual(2.0);

      const exec = /^ExecStart=\/usr\/bin\/env campus-energy (\S+)/m.exec(
        readFileSync(join(DIR, unit), 'utf8'),
      );
      expect(exec, 'ExecStart runs campus-energy').not.toBeNull();
      const help = spawnSync(process.execPath, ['bin/campus-energy.js', exec![1]!, '--help'], {
        encoding: 'utf8',
      });
      expect(help.status, `campus-energy ${exec![1]} --help`).toBe(0);
    }, 60_000);
  }
});
