import type { z } from 'zod';
import { existsSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { FIELD_PROTOCOLS, fieldProtocol, type FieldProfile } from '../adapters/protocols.ts';
import { BUILTIN_PROFILE_DIR } from './profiles.ts';
import { loadYamlFile } from './yaml-lines.ts';

/**
 * Profiles of the field protocols besides Modbus, one subfolder per protocol under each profile
 * folder (`config/profiles/dlt645/*.yaml`), parsed with that protocol's schema. Keyed by file name
 * without extension, like Modbus profiles, and sharing their namespace (a campus names a profile
 * by id alone).
 */
export type FieldProfileRegistry = ReadonlyMap<string, FieldProfile>;

export function loadFieldProfileFile(file: string, protocol: keyof typeof FIELD_PROTOCOLS): FieldProfile {
  const schema: z.ZodType<FieldProfile> = FIELD_PROTOCOLS[protocol].profileSchema;
  return loadYamlFile(file, schema);
}

export function loadFieldProfiles(dirs: readonly string[] = [BUILTIN_PROFILE_DIR]): FieldProfileRegistry {
  const out = new Map<string, FieldProfile>();
  for (const dir of dirs) {
    for (const protocol of Object.keys(FIELD_PROTOCOLS) as (keyof typeof FIELD_PROTOCOLS)[]) {
      const sub = join(dir, protocol);
      if (!existsSync(sub)) continue;
      for (const name of readdirSync(sub).sort()) {
        if (extname(name) !== '.yaml' && extname(name) !== '.yml') continue;
        out.set(basename(name, extname(name)), loadFieldProfileFile(join(sub, name), protocol));
      }
    }
  }
  return out;
}

/**
 * Whether meters of profile `id` have something the relay command path can switch: a Modbus
 * relay, a DL/T 645 relay or a CJ/T 188 valve (back office and live view use it to offer cut-off
 * and restore).
 */
export function profileCanSwitch(
  campus: { profiles: ReadonlyMap<string, { relay?: unknown }>; fieldProfiles: FieldProfileRegistry },
  id: string,
): boolean {
  if (campus.profiles.get(id)?.relay) return true;
  const field = campus.fieldProfiles.get(id);
  return field !== undefined && fieldProtocol(field.protocol)!.canSwitch(field);
}
