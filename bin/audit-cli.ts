import Database from 'better-sqlite3';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadCampus } from '../config/campus.ts';
import { ConfigError } from '../config/errors.ts';
import { AuditLog, type AuditEntry, type ChainHead } from '../services/platform/audit/audit-log.ts';
import { auditKeyPath, backofficePath } from '../services/platform/audit/paths.ts';
import { readAuditKey } from '../services/platform/audit/audit-key.ts';
import { Users } from '../services/platform/auth/users.ts';
import type { BackofficeDb } from '../services/platform/db.ts';
import { formatLocalTime } from '../services/metering/consumption/local-time.ts';

/**
 * `campus-energy audit …`: check the back office's audit log, print its head, show entries. The
 * database is opened read-only, so checking the evidence never changes it (not even by
 * re-creating a dropped trigger). Exit codes: 0 OK, 1 a broken log or a bad campus file, 2 any
 * other error.
 */

/** Where the commands write; tests pass their own. */
export interface AuditCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  exitCode: (code: number) => void;
}

const processIo: AuditCliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  // An exit code, not process.exit: the process ends once the database is closed and the output
  // is flushed.
  exitCode: (code) => {
    process.exitCode = code;
  },
};

class UsageError extends Error {}

/** `<seq>:<hash>`, as `audit head` prints it, or the JSON of the retained head message. */
export function parseHead(text: string): { seq: number; hash: string } {
  const plain = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (plain) return { seq: Number(plain[1]), hash: plain[2]! };
  try {
    const j = JSON.parse(text) as { seq?: unknown; hash?: unknown };
    if (
      typeof j.seq === 'number' &&
      Number.isInteger(j.seq) &&
      typeof j.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(j.hash)
    ) {
      return { seq: j.seq, hash: j.hash };
    }
  } catch {
    // Not JSON either; said below.
  }
  throw new UsageError(`--head must be <seq>:<64 hex digits> (as "audit head" prints it), not "${text}"`);
}

interface Opened {
  db: BackofficeDb;
  timezone: string;
  path: string;
  /** Null when the file has no audit log table. */
  audit: AuditLog | null;
}

function open(configFile: string): Opened {
  const campus = loadCampus(configFile);
  const path = backofficePath(campus);
  if (!existsSync(path)) throw new Error(`no back-office database at ${path}`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const hasTable = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'")
    .get();
  // With the MAC key (where this user may read it), verify also names an entry rewritten with its
  // later hashes recomputed.
  const key = readAuditKey(auditKeyPath(campus));
  return {
    db,
    path,
    timezone: campus.config.campus.timezone,
    audit: hasTable ? new AuditLog(db, Date.now, key) : null,
  };
}

function formatHead(head: ChainHead | null, timezone: string): string {
  if (!head) return `0:${'0'.repeat(64)} (empty log)`;
  return `${head.seq}:${head.hash} (entry written ${formatLocalTime(head.at, timezone)}, ${new Date(head.at).toISOString()})`;
}

function formatEntry(e: AuditEntry, timezone: string): string {
  const change =
    e.before === null && e.after === null
      ? ''
      : ` ${e.before === null ? '' : `${JSON.stringify(e.before)} → `}${JSON.stringify(e.after)}`;
  return `#${e.seq} ${formatLocalTime(e.at, timezone)} ${e.actor} ${e.action} ${e.subject}${change}${e.reason ? ` (${e.reason})` : ''}`;
}

function run(io: AuditCliIo, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      io.exitCode(1);
      return;
    }
    io.err(`error: ${(err as Error).message}`);
    io.exitCode(2);
  }
}

function withDb(configFile: string, fn: (o: Opened) => void): void {
  const opened = open(configFile);
  try {
    fn(opened);
  } finally {
    opened.db.close();
  }
}

export function registerAuditCommands(program: Command, io: AuditCliIo = processIo): Command {
  const audit = program.command('audit').description('The tamper-evident audit log of the back office');

  audit
    .command('verify')
    .description('Check the whole hash chain (and a published head); exit 1 naming the first broken entry')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option(
      '--head <seq:hash>',
      'a chain head published earlier (campus/v1/audit/head), to find a cut-off tail',
    )
    .action((opts: { config: string; head?: string }) =>
      run(io, () => {
        const expected = opts.head === undefined ? undefined : parseHead(opts.head);
        withDb(opts.config, ({ db, path, timezone, audit: log }) => {
          let broken = false;
          if (!log) {
            if (expected && expected.seq > 0) {
              io.out(`BROKEN: ${path} has no audit log table, but entry ${expected.seq} was published`);
              io.exitCode(1);
            } else {
              io.out(`OK: ${path} has no audit log yet (0 entries)`);
            }
            return;
          }
          const result = log.verify(expected);
          if (result.ok) {
            io.out(`OK: ${result.entries} entries, head ${formatHead(result.head, timezone)}`);
          } else {
            broken = true;
            io.out(`BROKEN at entry ${result.firstBroken.seq}: ${result.firstBroken.problem}`);
          }
          const missing = log.missingTriggers();
          if (missing.length > 0) {
            broken = true;
            io.out(
              `BROKEN: append-only trigger(s) ${missing.join(', ')} dropped: someone bypassed the service`,
            );
          }
          for (const p of new Users({ db, audit: log }).checkAgainstAudit()) {
            broken = true;
            io.out(`BROKEN: ${p.subject}: ${p.problem}`);
          }
          if (broken) io.exitCode(1);
        });
      }),
    );

  audit
    .command('head')
    .description('Print the chain head as <seq>:<hash>, the form --head takes')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .action((opts: { config: string }) =>
      run(io, () =>
        withDb(opts.config, ({ timezone, audit: log }) => io.out(formatHead(log?.head() ?? null, timezone))),
      ),
    );

  audit
    .command('show')
    .description('The newest entries, oldest first')
    .requiredOption('-c, --config <file>', 'campus YAML file')
    .option('--subject <subject>', 'e.g. account:E1-101, user:li.wei')
    .option('--actor <actor>', 'user name, token:<name> or system:<service>')
    .option('--action <prefix>', 'e.g. relay. or user.roles')
    .addOption(
      new Option('--limit <n>', 'how many entries').default(20).argParser((v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 10_000)
          throw new InvalidArgumentError(`--limit must be 1 to 10000, not ${v}`);
        return n;
      }),
    )
    .action((opts: { config: string; subject?: string; actor?: string; action?: string; limit: number }) =>
      run(io, () =>
        withDb(opts.config, ({ timezone, audit: log }) => {
          const entries = log
            ? log.query({
                subject: opts.subject,
                actor: opts.actor,
                action: opts.action,
                limit: opts.limit,
                newestFirst: true,
              })
            : [];
          if (entries.length === 0) io.out('no entries');
          for (const e of entries.reverse()) io.out(formatEntry(e, timezone));
        }),
      ),
    );

  return audit;
}
