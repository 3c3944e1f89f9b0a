import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { READING_ERROR_CATALOGUE } from '../../gateway/reading-errors.ts';

describe('reading error codes', () => {
  const readme = readFileSync('README.md', 'utf8');
  it.each(Object.keys(READING_ERROR_CATALOGUE))('%s is documented in the README', (code) => {
    expect(readme).toContain(`\`${code}\``);
  });

  it('the gateway emits no code outside the catalogue', () => {
    const sources = ['gateway/bus-poller.ts', 'adapters/modbus/client.ts', 'adapters/modbus/decode.ts']
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const used = new Set([...sources.matchAll(/'((?:MODBUS|BREAKER|GATEWAY)_[A-Z_]+)'/g)].map((m) => m[1]!));
    for (const code of used) expect(Object.keys(READING_ERROR_CATALOGUE)).toContain(code);
  });
});
