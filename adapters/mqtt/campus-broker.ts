import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { LoadedCampus } from '../../config/campus.ts';
import { aedesAuthorizer, parsePasswordFile, writeBrokerConfig } from './acl.ts';
import type { MqttConnection } from './connection.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';

/**
 * The embedded broker of a campus without an `mqtt` section (trials, the demo): it authenticates
 * every client with the campus's generated credentials and enforces the same ACL as the mosquitto
 * files (`writeBrokerConfig`), on 127.0.0.1 unless told otherwise. The credentials live in
 * `<dataDir>/broker/` (folder 0700, passwords 0600) and survive restarts, so a gateway, ingest
 * or back office started later on the same machine finds its own with `embeddedBrokerLogin`.
 */

export function embeddedBrokerDir(campus: Pick<LoadedCampus, 'dataDir'>): string {
  return join(campus.dataDir, 'broker');
}

export interface CampusBroker extends EmbeddedBroker {
  /** The connection of one account (gateway or service) of this campus. */
  login(username: string): MqttConnection;
  secretsFile: string;
}

export async function startCampusBroker(
  campus: Pick<LoadedCampus, 'config' | 'dataDir'> & Partial<Pick<LoadedCampus, 'file'>>,
  options: { port?: number; host?: string } = {},
): Promise<CampusBroker> {
  const files = writeBrokerConfig({ campus: campus.config, dir: embeddedBrokerDir(campus) });
  const hashes = parsePasswordFile(readFileSync(files.passwordFile, 'utf8'));
  const tls = brokerTls(campus);
  const broker = await startEmbeddedBroker({
    port: options.port,
    host: options.host ?? campus.config.embeddedBroker?.host ?? '127.0.0.1',
    auth: aedesAuthorizer(files.acl, hashes),
    ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
  });
  const secrets = readSecrets(files.secretsFile);
  return {
    ...broker,
    secretsFile: files.secretsFile,
    login(username) {
      const password = secrets[username];
      if (password === undefined) throw new Error(`the campus broker has no account ${username}`);
      return { url: broker.url, username, password, ...(tls ? { ca: tls.ca } : {}) };
    },
  };
}

/** The embedded broker's certificate, key and the CA its own parts trust, read from the campus file's paths. */
function brokerTls(
  campus: Pick<LoadedCampus, 'config'> & Partial<Pick<LoadedCampus, 'file'>>,
): { cert: Buffer; key: Buffer; ca: Buffer } | undefined {
  // Optional chaining: tests hand in configs that did not go through the schema's defaults.
  const t = campus.config.embeddedBroker?.tls;
  if (!t) return undefined;
  const read = (p: string, what: string) => {
    const path = campus.file ? resolve(dirname(campus.file), p) : resolve(p);
    if (!existsSync(path)) throw new Error(`embeddedBroker.tls.${what}: ${path} does not exist`);
    return readFileSync(path);
  };
  const cert = read(t.certFile, 'certFile');
  return { cert, key: read(t.keyFile, 'keyFile'), ca: t.caFile ? read(t.caFile, 'caFile') : cert };
}

/**
 * The login of `username` on the campus's embedded broker, read from the credentials that
 * broker wrote; an error naming the file when it is missing (the broker has never run here) or
 * readable by others.
 */
export function embeddedBrokerLogin(
  campus: Pick<LoadedCampus, 'dataDir'> & Partial<Pick<LoadedCampus, 'config' | 'file'>>,
  url: string,
  username: string,
): MqttConnection {
  const file = join(embeddedBrokerDir(campus), 'mqtt-secrets.json');
  if (!existsSync(file)) {
    throw new Error(
      `no credentials for the embedded broker in ${file}: start \`campus-energy gateway\` (which starts it) first, or set mqtt in the campus file`,
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new Error(
      `${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)}): chmod 600 it`,
    );
  }
  const password = readSecrets(file)[username];
  if (password === undefined) throw new Error(`${file} has no password for ${username}`);
  const tls =
    campus.config && campus.file ? brokerTls({ config: campus.config, file: campus.file }) : undefined;
  return { url, username, password, ...(tls ? { ca: tls.ca } : {}) };
}

function readSecrets(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}
