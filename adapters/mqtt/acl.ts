import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { AedesOptions } from 'aedes';
import type { CampusConfig } from '../../config/schemas/campus.ts';
import { TOPIC_ROOT } from '../../config/schemas/reading.ts';

/**
 * MQTT credentials and access rules for a campus, generated from the campus file: one principal
 * per gateway and per service, each allowed exactly the topics its job needs. The same rules are
 * written for mosquitto (`acl_file` + `password_file`) and enforced in the embedded Aedes broker.
 *
 * - A gateway publishes only its own readings, status, device health, command acks, seq
 *   announcements and replay answers, under `campus/v1/<site>/<gateway>/`, and subscribes only to
 *   its own meters' commands and its own replay requests. It cannot
 *   publish a command, not even to itself: only the control service can.
 * - The control service publishes commands and reads acks and gateway status.
 * - Ingest reads readings (plainly or through a shared subscription), the gateways' seq
 *   announcements and replay answers, and alone may ask a gateway to replay (config/schemas/replay.ts).
 * - The monitor (dashboards, `campus-energy watch`) reads everything and publishes nothing.
 */

export type PrincipalKind = 'gateway' | 'service';

export interface Principal {
  username: string;
  kind: PrincipalKind;
  /** Topic filters the principal may subscribe to (a subscription must lie inside one of them). */
  read: readonly string[];
  /** Topic filters the principal may publish to. */
  write: readonly string[];
}

export interface BrokerAcl {
  readonly principals: readonly Principal[];
}

export const SERVICE_USERS = {
  control: 'svc/control',
  ingest: 'svc/ingest',
  monitor: 'svc/monitor',
} as const;

/**
 * Client ids are bound to usernames: a client id belongs to the account it names. The account
 * `gw/east/gw1` owns the id `gw/east/gw1` and every id under `gw/east/gw1/`; no other account can
 * open, take over or wipe a session with one of them. A broker that authenticates applies this
 * to every CONNECT: mosquitto with `use_username_as_clientid true` (the id becomes the username,
 * the one id of the account; see config/mosquitto/campus-energy.conf), the embedded Aedes broker
 * by placing an id that is not the account's under the account (`gw/east/gw1` asking for
 * `svc/ingest` gets `gw/east/gw1/svc/ingest`, a session of its own). Our own clients connect with
 * their username as client id, which is the same session on both brokers.
 *
 * This holds because no username is another's followed by "/": ids contain no "/", and
 * `campusAcl` checks it.
 */
export function boundClientId(username: string, clientId: string): string {
  return clientId === username || clientId.startsWith(`${username}/`) ? clientId : `${username}/${clientId}`;
}

/** The username of a gateway; "/" cannot occur in ids, so it cannot be confused with another. */
export function gatewayUsername(site: string, gateway: string): string {
  return `gw/${site}/${gateway}`;
}

export function campusAcl(campus: Pick<CampusConfig, 'sites'>): BrokerAcl {
  const principals: Principal[] = [];
  for (const site of campus.sites) {
    for (const gw of site.gateways) {
      const own = `${TOPIC_ROOT}/${site.id}/${gw.id}`;
      principals.push({
        username: gatewayUsername(site.id, gw.id),
        kind: 'gateway',
        read: [`${own}/+/cmd`, `${own}/replay`],
        write: [
          `${own}/+/reading`,
          `${own}/status`,
          `${own}/device/+/health`,
          `${own}/+/cmd/ack`,
          `${own}/seqs`,
          `${own}/replay/answer`,
        ],
      });
    }
  }
  principals.push(
    {
      username: SERVICE_USERS.control,
      kind: 'service',
      // The back-office process connects as this principal: relay commands, the audit chain head
      // (retained, outside any administrator's reach) and inspection alerts.
      read: [`${TOPIC_ROOT}/+/+/+/cmd/ack`, `${TOPIC_ROOT}/+/+/status`],
      // Also planned-outage notices (retained, for the campus messaging platform).
      write: [
        `${TOPIC_ROOT}/+/+/+/cmd`,
        `${TOPIC_ROOT}/audit/head`,
        `${TOPIC_ROOT}/alerts/+`,
        `${TOPIC_ROOT}/outages/+`,
      ],
    },
    {
      username: SERVICE_USERS.ingest,
      kind: 'service',
      read: [`${TOPIC_ROOT}/+/+/+/reading`, `${TOPIC_ROOT}/+/+/seqs`, `${TOPIC_ROOT}/+/+/replay/answer`],
      write: [`${TOPIC_ROOT}/+/+/replay`, `${TOPIC_ROOT}/alerts/readings-lost`],
    },
    { username: SERVICE_USERS.monitor, kind: 'service', read: [`${TOPIC_ROOT}/#`], write: [] },
  );
  // The client-id namespaces of two accounts must not overlap (see boundClientId).
  for (const a of principals) {
    const inside = principals.find((b) => b !== a && b.username.startsWith(`${a.username}/`));
    if (inside) throw new Error(`MQTT account ${inside.username} lies inside ${a.username}'s client ids`);
  }
  return { principals };
}

/** MQTT topic matching: does `topic` (no wildcards) match `filter`? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // Wildcards at the first level do not match topics starting with $ (MQTT 4.7.2).
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Is every topic `filter` can match also matched by `allowed`? (Subscriptions inside a grant.) */
export function filterWithin(filter: string, allowed: string): boolean {
  const f = filter.split('/');
  const a = allowed.split('/');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= f.length) return false;
    if (f[i] === '#') return false;
    if (a[i] === '+') continue;
    if (f[i] !== a[i]) return false;
  }
  return f.length === a.length;
}

/** `$share/<group>/<filter>` subscribes to `<filter>`: the grant is checked on that. */
function unshared(filter: string): string {
  const m = /^\$share\/[^/]+\/(.+)$/.exec(filter);
  return m ? m[1]! : filter;
}

export function mayPublish(acl: BrokerAcl, username: string | undefined, topic: string): boolean {
  const p = acl.principals.find((x) => x.username === username);
  return !!p && p.write.some((w) => topicMatches(w, topic));
}

export function maySubscribe(acl: BrokerAcl, username: string | undefined, filter: string): boolean {
  const p = acl.principals.find((x) => x.username === username);
  const f = unshared(filter);
  return !!p && p.read.some((r) => filterWithin(f, r));
}

/** The mosquitto 2 `acl_file`: nothing is allowed that is not listed, anonymous gets nothing. */
export function mosquittoAclFile(acl: BrokerAcl): string {
  const lines = [
    '# Generated by campus-energy from the campus file: do not edit, regenerate.',
    '# Anything not listed is denied; anonymous clients have no entry and are refused by the broker',
    '# (allow_anonymous false).',
  ];
  for (const p of acl.principals) {
    lines.push('', `user ${p.username}`);
    for (const r of p.read) {
      lines.push(`topic read ${r}`);
      // mosquitto checks a shared subscription against its full $share/<group>/ filter.
      if (p.username === SERVICE_USERS.ingest) lines.push(`topic read $share/+/${r}`);
    }
    for (const w of p.write) lines.push(`topic write ${w}`);
  }
  return `${lines.join('\n')}\n`;
}

/** PBKDF2-SHA512 iterations; the passwords are random 256-bit strings, so this is not what protects them. */
const PBKDF2_ITERATIONS = 1000;

/** A mosquitto 2 password hash (`$7$`: PBKDF2-SHA512, as `mosquitto_passwd` writes it). */
export function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Checks a password against a `$7$` hash (as written by `hashPassword` or `mosquitto_passwd`). */
export function verifyPassword(password: string, stored: string): boolean {
  const parts = stored.split('$');
  if (parts.length !== 5 || parts[1] !== '7') return false;
  const iterations = Number(parts[2]);
  if (!Number.isInteger(iterations) || iterations < 1) return false;
  const expected = Buffer.from(parts[4]!, 'base64');
  const actual = pbkdf2Sync(
    password,
    Buffer.from(parts[3]!, 'base64'),
    iterations,
    expected.length,
    'sha512',
  );
  return expected.length > 0 && timingSafeEqual(actual, expected);
}

export function mosquittoPasswordFile(hashes: ReadonlyMap<string, string>): string {
  return [...hashes].map(([user, hash]) => `${user}:${hash}\n`).join('');
}

export function parsePasswordFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

export interface BrokerConfigFiles {
  aclFile: string;
  passwordFile: string;
  /** JSON `{ "<username>": "<password>" }`, mode 0600: hand each principal its own line. */
  secretsFile: string;
  acl: BrokerAcl;
}

export interface WriteBrokerConfigOptions {
  campus: Pick<CampusConfig, 'sites'>;
  /** Folder for `acl`, `passwd` and `mqtt-secrets.json` (created, mode 0700). */
  dir: string;
  /** New passwords for everyone; by default principals already in the secrets file keep theirs. */
  rotate?: boolean;
}

/**
 * Writes the mosquitto `acl_file` and `password_file` for a campus, and the clear-text passwords
 * to a secrets file only the owner can read. Passwords are random per principal and exist nowhere
 * else; re-running keeps existing ones (so gateways need not be re-provisioned) unless `rotate`.
 * Point mosquitto at the files with `acl_file`, `password_file` and `allow_anonymous false`.
 */
export function writeBrokerConfig(options: WriteBrokerConfigOptions): BrokerConfigFiles {
  const acl = campusAcl(options.campus);
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const aclFile = join(options.dir, 'acl');
  const passwordFile = join(options.dir, 'passwd');
  const secretsFile = join(options.dir, 'mqtt-secrets.json');
  let previous: Record<string, string> = {};
  if (!options.rotate && existsSync(secretsFile)) {
    previous = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>;
  }
  const secrets: Record<string, string> = {};
  const hashes = new Map<string, string>();
  for (const p of acl.principals) {
    const password = previous[p.username] ?? randomBytes(32).toString('base64url');
    secrets[p.username] = password;
    hashes.set(p.username, hashPassword(password));
  }
  writeFileSync(secretsFile, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(secretsFile, 0o600); // an existing file keeps its mode on write
  writeFileSync(passwordFile, mosquittoPasswordFile(hashes), { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  writeFileSync(aclFile, mosquittoAclFile(acl), { mode: 0o644 });
  return { aclFile, passwordFile, secretsFile, acl };
}

type AedesAuth = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>;

/**
 * The same rules for the embedded Aedes broker: authenticate against the password hashes (no
 * username or no password: refused), bind the client id to the account (`boundClientId`; Aedes
 * registers the id, and so takes over an earlier connection with it, only after this hook),
 * refuse publishes outside the principal's write grants (Aedes then drops the message and closes
 * the connection) and negate subscriptions outside its read grants (SUBACK 0x80).
 */
export function aedesAuthorizer(acl: BrokerAcl, passwordHashes: ReadonlyMap<string, string>): AedesAuth {
  const users = new WeakMap<object, string>();
  return {
    authenticate(client, username, password, done) {
      const hash = username === undefined ? undefined : passwordHashes.get(username);
      if (hash && password && verifyPassword(password.toString('utf8'), hash)) {
        users.set(client, username!);
        client.id = boundClientId(username!, client.id);
        done(null, true);
        return;
      }
      const err = Object.assign(new Error('bad user name or password'), { returnCode: 4 as const });
      done(err, false);
    },
    authorizePublish(client, packet, done) {
      // Messages the broker itself publishes ($SYS, client null) are not a principal's.
      if (!client) return done(null);
      if (mayPublish(acl, users.get(client), packet.topic)) return done(null);
      done(new Error(`${users.get(client) ?? 'anonymous'} may not publish to ${packet.topic}`));
    },
    authorizeSubscribe(client, sub, done) {
      done(null, maySubscribe(acl, users.get(client), sub.topic) ? sub : null);
    },
  };
}
