import { dirname, join, resolve } from 'node:path';
import type { LoadedCampus } from '../config/campus.ts';

/**
 * The gateway's OPC UA PKI folder: `gateway.pkiDir` relative to the campus file, else
 * `<dataDir>/<gateway>-pki`.
 */
export function gatewayPkiDir(campus: LoadedCampus, gatewayId: string): string {
  for (const site of campus.config.sites) {
    const gw = site.gateways.find((g) => g.id === gatewayId);
    if (gw)
      return gw.pkiDir ? resolve(dirname(campus.file), gw.pkiDir) : join(campus.dataDir, `${gw.id}-pki`);
  }
  throw new Error(`gateway ${gatewayId} is not in ${campus.file}`);
}
