import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, SchemaTooNewError, type Migration } from '../../adapters/sqlite/migrations.ts';

const steps: Migration[] = [
  { version: 1, name: 'a table', up: (db) => db.exec('CREATE TABLE t (a INTEGER)') },
  { version: 2, name: 'a column', up: (db) => db.exec('ALTER TABLE t ADD COLUMN b TEXT') },
];

describe('migrate', () => {
  it('applies what the file lacks, in order, once', () => {
    const db = new Database(':memory:');
    expect(migrate(db, steps.slice(0, 1), 'f')).toEqual({ from: 0, to: 1, applied: ['a table'] });
    expect(migrate(db, steps, 'f')).toEqual({ from: 1, to: 2, applied: ['a column'] });
    expect(migrate(db, steps, 'f').applied).toEqual([]);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.prepare('INSERT INTO t (a, b) VALUES (1, ?)').run('x');
  });

  it('leaves the file at the previous version when a change fails midway', () => {
    const db = new Database(':memory:');
    migrate(db, steps.slice(0, 1), 'f');
    const broken: Migration = {
      version: 2,
      name: 'half a change',
      up: (d) => {
        d.exec('ALTER TABLE t ADD COLUMN b TEXT');
        d.exec('ALTER TABLE nope ADD COLUMN c TEXT');
      },
    };
    expect(() => migrate(db, [steps[0]!, broken], 'f')).toThrow(/no such table/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    const cols = (db.prepare('PRAGMA table_info(t)').all() as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(['a']);
  });

  it('refuses a file made by a newer release, and migrations out of order', () => {
    const db = new Database(':memory:');
    db.pragma('user_version = 7');
    expect(() => migrate(db, steps, 'store.sqlite')).toThrow(SchemaTooNewError);
    expect(() => migrate(db, steps, 'store.sqlite')).toThrow(
      /store\.sqlite has schema version 7, made by a newer release/,
    );
    expect(() => migrate(new Database(':memory:'), [steps[1]!, steps[0]!], 'f')).toThrow(
      /increasing version order/,
    );
  });
});
