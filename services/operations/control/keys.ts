import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
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
