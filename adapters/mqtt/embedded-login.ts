import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { LoadedCampus } from '../../config/campus.ts';
import type { MqttConnection } from './connection.ts';

/**
 * A client's side of the embedded broker (campus-broker.ts): where its credentials live and the
 * login of one account. Apart from the broker itself so that a client (ingest, a gateway, the
 * back office) finds its login without loading Aedes.
 */

export function embeddedBrokerDir(campus: Pick<LoadedCampus, 'dataDir'>): string {
  return join(campus.dataDir, 'broker');
}

/** The embedded broker's certificate, key and the CA its own parts trust, read from the campus file's paths. */
export function brokerTls(
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

export function readSecrets(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}
