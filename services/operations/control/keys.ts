import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoadedCampus } from '../../../config/campus.ts';

export interface ControlKeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
  /** True when this call made them. */
  created: boolean;
}

/** Where the campus file says the control service's signing key pair lives. */
export function controlKeyFiles(campus: LoadedCampus): Omit<ControlKeyFiles, 'created'> {
  return {
    privateKeyFile: resolve(campus.dataDir, campus.config.control.privateKeyFile),
    publicKeyFile: resolve(campus.dataDir, campus.config.control.publicKeyFile),
  };
}

/**
 * Creates the Ed25519 key pair relay commands are signed with, unless it exists. The private key
 * is written readable by its owner only and never leaves the control service's machine; the
 * public key is what every gateway gets. An existing pair is never replaced (a new key would
 * silently invalidate every gateway's copy); half a pair is an error for a person to resolve.
 */
export function ensureControlKeys(campus: LoadedCampus): ControlKeyFiles {
  const files = controlKeyFiles(campus);
  const havePrivate = existsSync(files.privateKeyFile);
  const havePublic = existsSync(files.publicKeyFile);
  if (havePrivate && havePublic) return { ...files, created: false };
  if (havePrivate !== havePublic) {
    throw new Error(
      `only half of the relay command key pair exists (${havePrivate ? files.privateKeyFile : files.publicKeyFile}); ` +
        'restore the other half or remove it to make a new pair (then give every gateway the new public key)',
    );
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(files.privateKeyFile), { recursive: true });
  mkdirSync(dirname(files.publicKeyFile), { recursive: true });
  writeFileSync(files.privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(files.publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { ...files, created: true };
}

/** A gateway's ack-signing key pair files under the campus's `control.gatewayKeyDir`. */
export function gatewayKeyFiles(
  campus: LoadedCampus,
  site: string,
  gateway: string,
): { privateKeyFile: string; publicKeyFile: string } {
  const dir = resolve(campus.dataDir, campus.config.control.gatewayKeyDir);
  return {
    privateKeyFile: resolve(dir, `${site}.${gateway}.pem`),
    publicKeyFile: resolve(dir, `${site}.${gateway}.pub.pem`),
  };
}

/**
 * The gateway's own Ed25519 key, made on its first start: it signs every acknowledgement, so the
 * control service can tell the gateway's outcome of a command from anyone else's message on the
 * ack topic. The private half never leaves the gateway (0600); the public half goes to the back
 * office (in one data folder, as in the demo, it is already there).
 */
export function ensureGatewayKey(campus: LoadedCampus, site: string, gateway: string): KeyObject {
  const files = gatewayKeyFiles(campus, site, gateway);
  if (!existsSync(files.privateKeyFile)) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    mkdirSync(dirname(files.privateKeyFile), { recursive: true, mode: 0o700 });
    writeFileSync(files.privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(files.publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  }
  const key = createPrivateKey(readFileSync(files.privateKeyFile));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${files.privateKeyFile} is not an Ed25519 key`);
  return key;
}

/**
 * The control service's lookup of each gateway's ack key: the `.pub.pem` files under
 * `control.gatewayKeyDir`, read when first needed and again while missing (a gateway started
 * after the back office). No file: that gateway's acks are refused.
 */
export function gatewayAckKeys(
  campus: LoadedCampus,
): (site: string, gateway: string) => KeyObject | undefined {
  const cache = new Map<string, KeyObject>();
  return (site, gateway) => {
    const k = `${site}/${gateway}`;
    const known = cache.get(k);
    if (known) return known;
    const file = gatewayKeyFiles(campus, site, gateway).publicKeyFile;
    if (!existsSync(file)) return undefined;
    const key = createPublicKey(readFileSync(file));
    if (key.asymmetricKeyType !== 'ed25519') return undefined;
    cache.set(k, key);
    return key;
  };
}
