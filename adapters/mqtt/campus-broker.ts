import { readFileSync } from 'node:fs';
import type { LoadedCampus } from '../../config/campus.ts';
import { aedesAuthorizer, parsePasswordFile, writeBrokerConfig } from './acl.ts';
import type { MqttConnection } from './connection.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
import { brokerTls, embeddedBrokerDir, readSecrets } from './embedded-login.ts';

export { embeddedBrokerDir, embeddedBrokerLogin } from './embedded-login.ts';

/**
 * The embedded broker of a campus without an `mqtt` section (trials, the demo): it authenticates
 * every client with the campus's generated credentials and enforces the same ACL as the mosquitto
 * files (`writeBrokerConfig`), on 127.0.0.1 unless told otherwise. The credentials live in
 * `<dataDir>/broker/` (folder 0700, passwords 0600) and survive restarts, so a gateway, ingest
 * or back office started later on the same machine finds its own with `embeddedBrokerLogin`.
 */

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
