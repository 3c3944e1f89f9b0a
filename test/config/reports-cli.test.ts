import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../../adapters/sqlite/store.ts';
import { SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';
import { formatLocalTime, parseLocalTime } from '../../services/metering/consumption/local-time.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/campus-energy.js', ...args], { encoding: 'utf8' });

function campusFile(dir: string): string {
  const file = join(dir, 'campus.yaml');
  writeFileSync(
    file,
    `campus: { name: Test, timezone: Asia/Shanghai }
dataDir: data
sites:
  - id: east
    gateways:
      - id: gw1
        buses:
          - id: line1
            type: rtu-over-tcp
            host: 127.0.0.1
            port: 4001
            meters:
              - { id: E-101, kind: electricity, profile: hiking-dds238-2, unitId: 1 }
`,
  );
  mkdirSync(join(dir, 'data'));
  return file;
}

describe('campus time', () => {
  it('reads and shows dates as campus wall-clock time', () => {
    expect(parseLocalTime('2026-11-01', 'Asia/Shanghai')).toBe(Date.UTC(2026, 9, 31, 16, 0));
    expect(parseLocalTime('2026-11-01T08:30', 'Asia/Shanghai')).toBe(Date.UTC(2026, 10, 1, 0, 30));
    expect(formatLocalTime(Date.UTC(2026, 9, 31, 16, 0), 'Asia/Shanghai')).toBe('2026-11-01 00:00');
    expect(() => parseLocalTime('1 Nov 2026', 'Asia/Shanghai')).toThrow(/not a date like/);
    expect(() => parseLocalTime('2026-13-01', 'Asia/Shanghai')).toThrow(/not a valid/);
  });
});

describe('campus-energy consumption and dead-letters', () => {
  it('prints daily consumption in campus time, with a gap left empty rather than zero', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reports-cli-'));
    const file = campusFile(dir);
    const store = SqliteStore.open({ path: join(dir, 'data', 'store.sqlite') });
    // 1 kWh an hour from 2026-11-01 00:00 campus time for two days, then silence on the third.
    const start = Date.UTC(2026, 9, 31, 16, 0);
    await store.writeReadings(
      Array.from({ length: 49 }, (_, h) => ({
        meter: 'E-101',
        ts: start + h * 3_600_000,
        seq: h + 1,
        quality: 'good' as const,
        values: { energy_import_kwh: 1000 + h },
        site: 'east',
        gateway: 'gw1',
        kind: 'electricity' as const,
      })),
    );
    await store.close();

    const r = cli(
      'consumption',
      '-c',
      file,
      '-m',
      'E-101',
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-04',
      '--step',
      '1d',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'meter,start (Asia/Shanghai),end (Asia/Shanghai),consumption (kWh),status',
      'E-101,2026-11-01 00:00,2026-11-02 00:00,24,ok',
      'E-101,2026-11-02 00:00,2026-11-03 00:00,24,ok',
      'E-101,2026-11-03 00:00,2026-11-04 00:00,,gap',
    ]);

    const unknown = cli(
      'consumption',
      '-c',
      file,
      '-m',
      'E-999',
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-02',
    );
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('E-999');
  });

  it('lists what ingest refused, with counts per reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reports-cli-'));
    const file = campusFile(dir);
    expect(cli('dead-letters', '-c', file).stdout).toContain('no dead letters');
    const dead = SqliteDeadLetterStore.open({ path: join(dir, 'data', 'dead-letters.sqlite') });
    dead.add(
      'campus/v1/east/gw1/E-999/reading',
      Buffer.from('{}'),
      'UNKNOWN_METER',
      'meter "E-999" is not in the campus registry',
    );
    dead.close();
    const r = cli('dead-letters', '-c', file);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('1 dead letters');
    expect(r.stdout).toContain('UNKNOWN_METER: 1');
    expect(r.stdout).toContain('meter "E-999" is not in the campus registry');
  });
});
