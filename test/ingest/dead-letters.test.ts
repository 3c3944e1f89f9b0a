import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { payloadForStorage, SqliteDeadLetterStore } from '../../services/metering/ingest/dead-letters.ts';

describe('SqliteDeadLetterStore', () => {
  const dirs: string[] = [];
  const open = (maxRows: number, maxPayloadBytes?: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'dead-letters-'));
    dirs.push(dir);
    const path = join(dir, 'dead.sqlite');
    return { path, store: SqliteDeadLetterStore.open({ path, maxRows, maxPayloadBytes }) };
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the newest N, counts all per code, and survives reopening', () => {
    const { path, store } = open(5);
    for (let i = 0; i < 12; i++) {
      store.add(
        `t/${i}`,
        Buffer.from(`{"n":${i}}`),
        i % 3 === 0 ? 'INVALID_JSON' : 'SCHEMA',
        `reason ${i}`,
        1000 + i,
      );
    }
    const recent = store.recent(100);
    expect(recent.map((l) => l.topic)).toEqual(['t/11', 't/10', 't/9', 't/8', 't/7']);
    expect(recent[0]).toEqual({
      ts: 1011,
      topic: 't/11',
      code: 'SCHEMA',
      reason: 'reason 11',
      payload: '{"n":11}',
      encoding: 'utf8',
      bytes: 8,
      truncated: false,
    });
    expect(store.recent(2)).toHaveLength(2);
    expect(store.counts()).toEqual({ total: 12, byCode: { INVALID_JSON: 4, SCHEMA: 8 } });
    store.close();

    const again = SqliteDeadLetterStore.open({ path, maxRows: 5 });
    again.add('t/12', Buffer.from('x'), 'BAD_TOPIC', 'r');
    expect(again.counts()).toEqual({ total: 13, byCode: { INVALID_JSON: 4, SCHEMA: 8, BAD_TOPIC: 1 } });
    expect(again.recent(10)).toHaveLength(5);
    again.close();
  });

  it('truncates large payloads and keeps binary ones as base64', () => {
    const { store } = open(10, 64);
    store.add('t/big', Buffer.from('a'.repeat(1000)), 'PAYLOAD_TOO_LARGE', 'big');
    store.add('t/bin', Buffer.from([0, 0xff, 0xfe, 1]), 'NOT_UTF8', 'bin');
    const [bin, big] = store.recent(2);
    expect(big).toMatchObject({ payload: 'a'.repeat(64), encoding: 'utf8', bytes: 1000, truncated: true });
    expect(bin).toMatchObject({
      payload: Buffer.from([0, 0xff, 0xfe, 1]).toString('base64'),
      encoding: 'base64',
      truncated: false,
    });
    store.close();
  });

  it('does not turn text cut inside a multi-byte character into base64', () => {
    const text = Buffer.from('é'.repeat(10)); // 2 bytes each
    expect(payloadForStorage(text, 5)).toEqual({ payload: 'éé', encoding: 'utf8', truncated: true });
  });
});
