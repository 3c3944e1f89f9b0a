import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { fail } from '../../platform/errors.ts';
import { billingError } from './errors.ts';
import type { TariffStore } from './tariff-store.ts';
import { TARIFF_ERRORS } from './tariffs.ts';

/**
 * Where a campus's tariff file is: the file given, else `tariffs.json` next to the campus file. It
 * is the first version of the back office's tariffs (seedTariffs), imported once; the example table
 * shipped with the code is for the demo, and a back office that has to fall back to it says so
 * (services/backoffice/run.ts).
 */
export function campusTariffsFile(campus: { readonly file: string }, given?: string): string | undefined {
  if (given !== undefined) return given;
  const next = join(dirname(campus.file), 'tariffs.json');
  return existsSync(next) ? next : undefined;
}

/** A tariff file (JSON, or YAML) as data; an unreadable or unparsable file is named in the error. */
export function readTariffFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', `tariff table ${file}: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    return fail(TARIFF_ERRORS, 'INVALID_TARIFF_TABLE', `tariff table ${file}: ${(err as Error).message}`);
  }
}

export interface StoredTariffs {
  /** The version in force. */
  version: number;
  /** True when `file` was imported now as version 1 (the first start). */
  imported: boolean;
  /** Set when a file was given but the store's version in force differs from it. */
  differs?: string;
}

/**
 * The tariffs are the back office's (TariffStore); a file is read into it only once, when the store
 * holds no version yet (the first start), as version 1 audited as `system:import`. After that a
 * file that differs from the version in force is reported in `differs` (the caller warns, or
 * refuses with TARIFF_FILE_DIFFERS when the file was asked for by name), never billed from.
 */
export function seedTariffs(store: TariffStore, file: string | undefined): StoredTariffs {
  if (store.currentVersion() === 0) {
    if (file === undefined) {
      billingError(
        'NO_TARIFFS',
        'no tariff version in the back office and no tariffs.json next to the campus file to import',
      );
    }
    const input = readTariffFile(file);
    const imported = store.importInitial(input, file) !== null;
    return { version: store.currentVersion(), imported };
  }
  const version = store.currentVersion();
  if (file === undefined) return { version, imported: false };
  let same: boolean;
  try {
    same = store.isInForce(readTariffFile(file));
  } catch (err) {
    return {
      version,
      imported: false,
      differs: `${(err as Error).message}; version ${version} in the back office is used`,
    };
  }
  return same
    ? { version, imported: false }
    : {
        version,
        imported: false,
        differs: `${file} differs from tariff version ${version} in force in the back office, which is used: tariff changes are proposed and approved there (GET /api/tariffs)`,
      };
}

/** Refuses a tariff file asked for by name that is not the table in force. */
export function assertFileInForce(stored: StoredTariffs): void {
  if (stored.differs) billingError('TARIFF_FILE_DIFFERS', stored.differs);
}
