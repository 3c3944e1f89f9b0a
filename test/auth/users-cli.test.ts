import { Command } from 'commander';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerUsersCommands } from '../../bin/users-cli.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { openBackofficeDb } from '../../services/platform/db.ts';
import { openAuditLog } from '../../services/platform/audit/audit-log.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { PASSWORD, TEST_SCRYPT_COST } from './setup.ts';

async function users(env: NodeJS.ProcessEnv, ...args: string[]) {
  const out: string[] = [];
  let code = 0;
  const program = new Command('campus-energy').exitOverride().configureOutput({ writeErr: () => {} });
  registerUsersCommands(program, { out: (l) => out.push(l), exitCode: (c) => (code = c), env });
  await program.parseAsync(['users', ...args], { from: 'user' });
  return { out: out.join('\n'), code };
}

describe('campus-energy users add-admin', () => {
  it('adds the second administrator from the console, once; never a third', async () => {
    const t = tempBackoffice();
    const bootstrap = new Users({ db: t.db, audit: t.audit, scryptCost: TEST_SCRYPT_COST });
    await bootstrap.bootstrapAdmin('root', PASSWORD);
    t.db.close();
    const config = tempCampusFile(t.dir);
    expect((await users({}, 'add-admin', '-c', config, '-u', 'second')).code).toBe(1);
    const ok = await users(
      { CAMPUS_ADMIN_PASSWORD: 'a long console password' },
      'add-admin',
      '-c',
      config,
      '-u',
      'second',
    );
    expect(ok).toMatchObject({ code: 0 });
    const third = await users(
      { CAMPUS_ADMIN_PASSWORD: 'a long console password' },
      'add-admin',
      '-c',
      config,
      '-u',
      'third',
    );
    expect(third.code).toBe(1);
    expect(third.out).toMatch(/2 administrators are enabled already/);
    const db = openBackofficeDb(join(t.dir, 'backoffice.sqlite'));
    const audit = openAuditLog(db, Date.now, join(t.dir, 'audit-key.json'));
    expect(audit.query({ subject: 'user:second' })[0]).toMatchObject({
      actor: 'system:console',
      action: 'user.create',
    });
    expect(new Users({ db, audit }).getUser('third')).toBeNull();
    db.close();
  });
});
