import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The lint rule that keeps services/ in its groups (eslint.config.js). Lints a one-line file as if
 * it lived at `filePath`, so a wrong import is shown to fail `npm test` and a right one to pass.
 */
async function importErrors(filePath: string, specifier: string): Promise<string[]> {
  const eslint = new ESLint();
  const [result] = await eslint.lintText(`import type { X } from '${specifier}';\nexport type Y = X;\n`, {
    filePath,
  });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('services/ group boundaries', () => {
  it.each([
    ['services/platform/auth/x.ts', '../../money/prepaid/prepaid.ts'],
    ['services/platform/x.ts', '../metering/storage.ts'],
    ['services/metering/vee/x.ts', '../../money/billing/tariffs.ts'],
    ['services/metering/vee/x.ts', '../../backoffice/run.ts'],
    ['services/money/prepaid/x.ts', '../../operations/control/relay-control.ts'],
    ['services/money/prepaid/x.ts', '../../inspection/detection/alerts.ts'],
    ['services/operations/control/x.ts', '../../money/prepaid/prepaid.ts'],
    ['services/inspection/detection/x.ts', '../../money/billing/tariffs.ts'],
    ['services/inspection/detection/x.ts', '../../../simulators/farm.ts'],
    ['adapters/sqlite/x.ts', '../../services/money/prepaid/prepaid.ts'],
  ])('%s may not import %s', async (file, spec) => {
    const errors = await importErrors(file, spec);
    expect(errors).toHaveLength(1);
  });

  it.each([
    ['services/metering/vee/x.ts', '../../platform/audit/audit-log.ts'],
    ['services/money/prepaid/x.ts', '../../metering/consumption/zone.ts'],
    ['services/money/prepaid/x.ts', '../billing/tariffs.ts'],
    ['services/inspection/detection/x.ts', '../../operations/control/commands.ts'],
    ['services/backoffice/x.ts', '../inspection/detection/engine.ts'],
    ['adapters/sqlite/x.ts', '../../services/metering/storage.ts'],
  ])('%s may import %s', async (file, spec) => {
    expect(await importErrors(file, spec)).toEqual([]);
  });
});
