import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCampus } from '../../config/campus.ts';

/**
 * The example campus's `payments`, `selfService` and `notices` sections: the commented-out blocks
 * still parse when uncommented (so the example never rots), and mistakes are named with their path.
 */

const EXAMPLE = readFileSync('config/examples/campus.yaml', 'utf8');

/** The example with the commented `payments:` and `notices:` blocks switched on. */
function uncommented(): string {
  let on = false;
  return EXAMPLE.split('\n')
    .map((line) => {
      if (line === '# payments:' || line === '# notices:') on = true;
      else if (on && !line.startsWith('#   ')) on = false;
      return on ? line.slice(2) : line;
    })
    .join('\n');
}

function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'campus-self-'));
  const file = join(dir, 'campus.yaml');
  writeFileSync(file, text.replace(/^dataDir: .*$/m, 'dataDir: .'));
  return loadCampus(file);
}

describe('the campus file’s customer sections', () => {
  it('the example as shipped: no provider, no channel, the self-service defaults', () => {
    const c = load(EXAMPLE).config;
    expect(c.payments.providers).toEqual([]);
    expect(c.notices).toMatchObject({ email: null, webhook: null, mqttTopic: null });
    expect(c.selfService).toEqual({ codeTtl: 259200, sessionIdle: 1800, sessionMax: 43200, recentDays: 14 });
  });

  it('the commented blocks parse when switched on', () => {
    const c = load(uncommented()).config;
    expect(c.payments.providers).toEqual([
      {
        id: 'campus-card',
        kind: 'signed-http',
        method: 'card',
        baseUrl: 'https://pay.example.edu',
        keyFile: 'keys/campus-card.key',
      },
    ]);
    expect(c.notices.email).toMatchObject({
      host: 'smtp.example.edu',
      port: 587,
      passwordFile: 'keys/smtp.pass',
    });
    expect(c.notices.mqttTopic).toBe('campus/notices');
  });

  it.each([
    [
      'minTopUpFen: 100 # 1 yuan',
      'minTopUpFen: 200000',
      /payments\.minTopUpFen: minTopUpFen is above maxTopUpFen/,
    ],
    [
      "baseUrl: 'https://pay.example.edu'",
      "baseUrl: 'ftp://pay.example.edu'",
      /payments\.providers\[0\]\.baseUrl: an http/,
    ],
    ['mqttTopic: campus/notices', 'mqttTopic: campus/#', /notices\.mqttTopic: a topic without wildcards/],
  ])('a mistake is named with its path: %s → %s', (from, to, message) => {
    expect(() => load(uncommented().replace(from, to))).toThrow(message);
  });
});
