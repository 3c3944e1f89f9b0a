import { readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadYamlFile } from './yaml-lines.ts';
import { ProfileSchema, type Profile } from './schemas/profile.ts';

export const BUILTIN_PROFILE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'profiles');

/** Profiles keyed by file name without extension, e.g. `eastron-sdm630`. */
export type ProfileRegistry = ReadonlyMap<string, Profile>;

export function loadProfileFile(file: string): Profile {
  return loadYamlFile(file, ProfileSchema);
}

/** Loads every `*.yaml` in the given folders; a later folder's profile overrides an earlier one. */
export function loadProfiles(dirs: readonly string[] = [BUILTIN_PROFILE_DIR]): ProfileRegistry {
  const out = new Map<string, Profile>();
  for (const dir of dirs) {
    for (const name of readdirSync(dir).sort()) {
      if (extname(name) !== '.yaml' && extname(name) !== '.yml') continue;
      out.set(basename(name, extname(name)), loadProfileFile(join(dir, name)));
    }
  }
  return out;
}
