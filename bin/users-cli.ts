import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { loadCampus } from '../config/campus.ts';
import { openAuditLog } from '../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../services/platform/audit/paths.ts';
import { Users } from '../services/platform/auth/users.ts';
import { openBackofficeDb } from '../services/platform/db.ts';

/**
 * `campus-energy users add-admin`: the second administrator, on the server's console. User
 * administration takes two administrators (one proposes, the other approves), so the first one,
 * bootstrapped from the environment, cannot make the second alone through the web app. Whoever
 * has a shell on the server can do this — and could change the database anyway — so it is allowed
 * only while fewer than two administrators are enabled, and the audit log says `system:console`.
 * The password comes from CAMPUS_ADMIN_PASSWORD, never from the command line (shell history).
 */
export interface UsersCliIo {
  out: (line: string) => void;
  exitCode: (code: number) => void;
  env: NodeJS.ProcessEnv;
}

const processIo: UsersCliIo = {
  out: (line) => console.log(line),
  exitCode: (code) => {
    process.exitCode = code;
  },
  env: process.env,
};

export function registerUsersCommands(program: Command, io: UsersCliIo = processIo): Command {
  const users = program.command('users').description('Back-office users, from the server console');
  users
    .command('add-admin')
    .description(
      'Add the second administrator (only while fewer than two are enabled); password from CAMPUS_ADMIN_PASSWORD',
    )
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .requiredOption('-u, --username <name>', 'user name of the new administrator')
    .option('-n, --display-name <name>', 'display name', 'Administrator')
    .action(async (opts: { config: string; username: string; displayName: string }) => {
      const password = io.env.CAMPUS_ADMIN_PASSWORD;
      if (!password) {
        io.out('CAMPUS_ADMIN_PASSWORD is not set: the new administrator’s password comes from it');
        io.exitCode(1);
        return;
      }
      const campus = loadCampus(opts.config);
      mkdirSync(campus.dataDir, { recursive: true });
      const db = openBackofficeDb(backofficePath(campus));
      try {
        const u = new Users({ db, audit: openAuditLog(db, Date.now, auditKeyPath(campus)) });
        const admins = (
          db.prepare('SELECT roles, disabled FROM users').all() as { roles: string; disabled: number }[]
        ).filter((r) => !r.disabled && (JSON.parse(r.roles) as string[]).includes('admin')).length;
        if (admins >= 2) {
          io.out(
            `${admins} administrators are enabled already: propose new users in the web app, another administrator approves`,
          );
          io.exitCode(1);
          return;
        }
        const user = await u.provisionUser(
          { username: opts.username, displayName: opts.displayName, roles: ['admin'], password },
          'system:console',
        );
        io.out(`administrator ${user.username} added (audited as system:console)`);
      } catch (err) {
        io.out(`refused: ${(err as Error).message}`);
        io.exitCode(1);
      } finally {
        db.close();
      }
    });
  return users;
}
