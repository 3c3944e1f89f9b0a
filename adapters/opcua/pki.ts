import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUACertificateManager, getHostname, makeApplicationUrn } from 'node-opcua';

/**
 * The gateway's OPC UA PKI folder, in node-opcua's layout: `own/` (the gateway's certificate and
 * key), `trusted/certs/` (server certificates the gateway accepts), `rejected/` (server
 * certificates seen but not trusted). Nothing is ever trusted automatically: an operator moves a
 * certificate from rejected to trusted (`campus-energy opcua trust`).
 */

export const GATEWAY_APPLICATION_NAME = 'campus-energy-gateway';

/** The applicationUri the gateway's client uses and puts in its self-signed certificate. */
export function gatewayApplicationUri(): string {
  return makeApplicationUrn(getHostname(), GATEWAY_APPLICATION_NAME);
}

/** Where the gateway's own certificate lives (node-opcua's default path for a client). */
export function gatewayCertificateFile(pkiDir: string): string {
  return join(pkiDir, 'own', 'certs', 'client_certificate.pem');
}

export interface CertInfo {
  /** Hex SHA-1 of the DER certificate, lower case, as node-opcua names certificates. */
  thumbprint: string;
  subject: string;
  commonName?: string;
  applicationUri?: string;
  notBefore: Date;
  notAfter: Date;
  file: string;
}

/** An initialized certificate manager on `pkiDir` that never trusts an unknown certificate. */
export async function openCertificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  const cm = new OPCUACertificateManager({
    rootFolder: pkiDir,
    automaticallyAcceptUnknownCertificate: false,
    // Each user opens the store afresh and scans it, so watchers would only cost handles.
    disableFileWatchers: true,
  });
  await cm.initialize();
  return cm;
}

/** Creates the gateway's self-signed application certificate if it does not exist yet. */
export async function ensureGatewayCertificate(pkiDir: string): Promise<string> {
  const file = gatewayCertificateFile(pkiDir);
  if (existsSync(file) && statSync(file).size > 0) return file;
  const cm = await openCertificateManager(pkiDir);
  try {
    if (!existsSync(file)) {
      const hostname = getHostname();
      await cm.createSelfSignedCertificate({
        applicationUri: gatewayApplicationUri(),
        dns: [hostname],
        outputFile: file,
        subject: `/CN=${GATEWAY_APPLICATION_NAME}@${hostname}/O=campus-energy`,
        startDate: new Date(),
        validity: 365 * 10,
      });
    }
  } finally {
    await cm.dispose();
  }
  return file;
}

/** Parses a PEM or DER certificate (the first of a chain). */
export function parseCertificate(data: Buffer | string): X509Certificate {
  return new X509Certificate(data);
}

export function thumbprintOf(cert: X509Certificate): string {
  return createHash('sha1').update(cert.raw).digest('hex');
}

export function certInfo(cert: X509Certificate, file: string): CertInfo {
  const info: CertInfo = {
    thumbprint: thumbprintOf(cert),
    subject: cert.subject.replace(/\n/g, ', '),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    file,
  };
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  if (cn !== undefined) info.commonName = cn;
  const uri = /URI:([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  if (uri !== undefined) info.applicationUri = uri;
  return info;
}

function readFolder(dir: string): CertInfo[] {
  if (!existsSync(dir)) return [];
  const out: CertInfo[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/\.(pem|der|crt|cer)$/i.test(name)) continue;
    const file = join(dir, name);
    try {
      out.push(certInfo(parseCertificate(readFileSync(file)), file));
    } catch {
      // A file that is not a certificate is not ours to judge here; skip it.
    }
  }
  return out;
}

export interface PkiListing {
  trusted: CertInfo[];
  rejected: CertInfo[];
  /** The gateway's own application certificate, once created. */
  own?: CertInfo;
}

export function listCertificates(pkiDir: string): PkiListing {
  const listing: PkiListing = {
    trusted: readFolder(join(pkiDir, 'trusted', 'certs')),
    rejected: readFolder(join(pkiDir, 'rejected')),
  };
  const ownFile = gatewayCertificateFile(pkiDir);
  if (existsSync(ownFile)) {
    try {
      listing.own = certInfo(parseCertificate(readFileSync(ownFile)), ownFile);
    } catch {
      // A half-written certificate: the client recreates it on its next start.
    }
  }
  return listing;
}

export class PkiError extends Error {
  override name = 'PkiError';
}

/** The one certificate in `among` whose thumbprint starts with `prefix` (case and colons ignored). */
function pick(among: CertInfo[], prefix: string, where: string, pkiDir: string): CertInfo | undefined {
  const p = prefix.toLowerCase().replace(/:/g, '');
  if (!/^[0-9a-f]{4,40}$/.test(p)) {
    throw new PkiError(`"${prefix}" is neither a certificate file nor a thumbprint (at least 4 hex digits)`);
  }
  const hits = among.filter((c) => c.thumbprint.startsWith(p));
  if (hits.length > 1) {
    throw new PkiError(
      `thumbprint ${prefix} is ambiguous in ${join(pkiDir, where)}: ${hits.map((h) => `${h.thumbprint} (${h.subject})`).join('; ')}`,
    );
  }
  return hits[0];
}

async function withManager<T>(pkiDir: string, fn: (cm: OPCUACertificateManager) => Promise<T>): Promise<T> {
  const cm = await openCertificateManager(pkiDir);
  try {
    return await fn(cm);
  } finally {
    await cm.dispose();
  }
}

/**
 * Trusts a server certificate: one from `rejected/` named by its thumbprint (or a unique prefix of
 * it), or a PEM/DER file, which is copied into `trusted/certs/`. Returns what was trusted.
 */
export async function trustCertificate(pkiDir: string, thumbprintOrFile: string): Promise<CertInfo> {
  if (existsSync(thumbprintOrFile) && statSync(thumbprintOrFile).isFile()) {
    let cert: X509Certificate;
    try {
      cert = parseCertificate(readFileSync(thumbprintOrFile));
    } catch (err) {
      throw new PkiError(`${thumbprintOrFile} is not a PEM or DER certificate: ${(err as Error).message}`);
    }
    await withManager(pkiDir, (cm) => cm.trustCertificate(cert.raw));
    return findIn(listCertificates(pkiDir).trusted, thumbprintOf(cert), certInfo(cert, thumbprintOrFile));
  }
  const listing = listCertificates(pkiDir);
  const rejected = pick(listing.rejected, thumbprintOrFile, 'rejected', pkiDir);
  if (!rejected) {
    const already = pick(listing.trusted, thumbprintOrFile, 'trusted/certs', pkiDir);
    if (already) return already;
    throw new PkiError(`no certificate with thumbprint ${thumbprintOrFile} in ${join(pkiDir, 'rejected')}`);
  }
  const der = parseCertificate(readFileSync(rejected.file)).raw;
  await withManager(pkiDir, (cm) => cm.trustCertificate(der));
  return findIn(listCertificates(pkiDir).trusted, rejected.thumbprint, rejected);
}

/** Stops trusting a server certificate: moves it from `trusted/certs/` to `rejected/`. */
export async function rejectCertificate(pkiDir: string, thumbprint: string): Promise<CertInfo> {
  const listing = listCertificates(pkiDir);
  const trusted = pick(listing.trusted, thumbprint, 'trusted/certs', pkiDir);
  if (!trusted) {
    const already = pick(listing.rejected, thumbprint, 'rejected', pkiDir);
    if (already) return already;
    throw new PkiError(`no certificate with thumbprint ${thumbprint} in ${join(pkiDir, 'trusted', 'certs')}`);
  }
  const der = parseCertificate(readFileSync(trusted.file)).raw;
  await withManager(pkiDir, (cm) => cm.rejectCertificate(der));
  return findIn(listCertificates(pkiDir).rejected, trusted.thumbprint, trusted);
}

function findIn(list: CertInfo[], thumbprint: string, fallback: CertInfo): CertInfo {
  return list.find((c) => c.thumbprint === thumbprint) ?? fallback;
}
