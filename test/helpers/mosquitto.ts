import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

/** The broker configuration the project ships; tests run against exactly these settings. */
export const SHIPPED_MOSQUITTO_CONF = fileURLToPath(
  new URL('../../config/mosquitto/campus-energy.conf', import.meta.url),
);

/**
 * `stop()` lets mosquitto write its persistence file; `restart()` keeps the port and data dir (and
 * so the saved sessions); after `kill()` nothing since the last autosave is kept.
 */
export interface Mosquitto extends ServerProcess {
  url: string;
  port: number;
  dataDir: string;
  /** With `tls`: `mqtts://127.0.0.1:<port>` of the TLS listener. */
  tlsUrl?: string;
}

export interface MosquittoOptions {
  /** Seconds between persistence autosaves (default: the shipped configuration's). */
  autosaveInterval?: number;
  /**
   * Authentication and ACL files (e.g. from `writeBrokerConfig`): anonymous clients are then
   * refused. Absent: anonymous access, as before.
   */
  auth?: { passwordFile: string; aclFile: string };
  /** A second listener with TLS (server certificate and key, PEM), next to the plain one. */
  tls?: { certfile: string; keyfile: string };
}

/**
 * Starts the real mosquitto on 127.0.0.1 and a free port from the shipped configuration
 * (config/mosquitto/campus-energy.conf: persistence, queue and in-flight limits sized so that no
 * QoS 1 reading is dropped), adding only the listener, a temp persistence dir and logging.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  const confPath = join(dataDir, 'mosquitto.conf');
  const lines = [
    `# ${SHIPPED_MOSQUITTO_CONF}, its listener on a free loopback port`,
    ...shippedWithListener(readFileSync(SHIPPED_MOSQUITTO_CONF, 'utf8'), port, options.auth),
    '# test additions',
    `persistence_location ${dataDir}/`,
    ...(options.autosaveInterval === undefined ? [] : [`autosave_interval ${options.autosaveInterval}`]),
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
  ];
  if (options.tls) {
    // Listener options follow their listener line.
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      // Per listener in mosquitto 2, as the shipped file says for its TLS listener.
      ...(options.auth ? ['use_username_as_clientid true'] : []),
      `certfile ${options.tls.certfile}`,
      `keyfile ${options.tls.keyfile}`,
    );
  }
  // Running as root, mosquitto drops privileges to the user named here, who must own the data dir.
  if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);
  writeFileSync(confPath, `${lines.join('\n')}\n`);

  const server = await startServerProcess({
    name: 'mosquitto',
    bin: MOSQUITTO_BIN,
    args: ['-c', confPath],
    dataDir,
    ready: () => accepts(port),
    startTimeoutMs: 10_000,
    what: `accept connections on ${port}`,
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dataDir,
    ...(tlsPort ? { tlsUrl: `mqtts://127.0.0.1:${tlsPort}` } : {}),
    ...server,
  };
}

/**
 * The shipped file with its listener moved to `port` on 127.0.0.1 and its account files replaced
 * by the test's; without `auth`, anonymous access and no account-bound client ids (mosquitto
 * refuses clients without a username there). Every other line as shipped; a shipped file
 * without these lines fails.
 */
function shippedWithListener(text: string, port: number, auth: MosquittoOptions['auth']): string[] {
  const replaced = new Set<string>();
  const out = text.split('\n').flatMap((line) => {
    const key = /^(listener|allow_anonymous|password_file|acl_file|use_username_as_clientid)\b/.exec(
      line,
    )?.[1];
    if (!key) return [line];
    replaced.add(key);
    // mosquitto refuses a client without a username on a listener that takes ids from usernames.
    if (key === 'use_username_as_clientid') return auth ? [line] : [];
    if (key === 'listener') return [`listener ${port} 127.0.0.1`];
    if (key === 'allow_anonymous') return [`allow_anonymous ${auth ? 'false' : 'true'}`];
    if (!auth) return [];
    return [key === 'password_file' ? `password_file ${auth.passwordFile}` : `acl_file ${auth.aclFile}`];
  });
  for (const key of [
    'listener',
    'allow_anonymous',
    'password_file',
    'acl_file',
    'use_username_as_clientid',
  ]) {
    if (!replaced.has(key)) throw new Error(`${SHIPPED_MOSQUITTO_CONF} has no ${key} line`);
  }
  return out;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
