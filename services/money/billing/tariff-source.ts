import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Where a campus's tariff table is: the file given, else `tariffs.json` next to the campus file.
 * The back office and the billing CLI both ask here, so a bill made by either is priced from the
 * same table; the example table shipped with the code is for the demo, and a back office that has
 * to fall back to it says so (services/backoffice/run.ts).
 */
export function campusTariffsFile(campus: { readonly file: string }, given?: string): string | undefined {
  if (given !== undefined) return given;
  const next = join(dirname(campus.file), 'tariffs.json');
  return existsSync(next) ? next : undefined;
}
