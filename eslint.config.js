import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Which groups of services/ may import which (each group's README says why). A group imports
 * only the groups listed here, besides itself, config/ and adapters/; the composition root,
 * services/backoffice, may import every group. A wrong import fails `npm test`.
 */
const SERVICE_GROUPS = {
  platform: [],
  metering: ['platform'],
  money: ['platform', 'metering'],
  operations: ['platform', 'metering'],
  inspection: ['platform', 'metering', 'operations'],
};
const ALL_GROUPS = [...Object.keys(SERVICE_GROUPS), 'backoffice'];

/** Relative imports from inside services/<group>/ reach another group only through `<group>/`. */
function groupBoundaries() {
  return Object.entries(SERVICE_GROUPS).map(([group, allowed]) => {
    const forbidden = ALL_GROUPS.filter((g) => g !== group && !allowed.includes(g));
    return {
      files: [`services/${group}/**`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(services/)?(${forbidden.join('|')})/`,
                message: `services/${group} may import only ${allowed.length ? allowed.join(', ') : 'no other group'} (see services/${group}/README.md)`,
              },
              {
                regex: '^(\\.\\./)+(bin|simulators|test)/',
                message: 'services never import the CLI, the simulators or the tests',
              },
            ],
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  ...groupBoundaries(),
  {
    // Adapters are the edges to the outside world: they implement the ports the services define
    // (the readings store, the gateway's outbox) and know nothing else of them.
    files: ['adapters/**', 'config/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(\\.\\./)+(?!services/metering/storage\\.ts$|gateway/outbox/outbox\\.ts$)(services|gateway|bin|simulators)/',
              message:
                'adapters/ and config/ import no service, gateway, CLI or simulator, only the ports they implement (services/metering/storage.ts, gateway/outbox/outbox.ts)',
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI, benchmarks, simulators' entry points and tests talk to a human on the terminal.
    files: ['bin/**', 'cli/**', 'bench/**', 'test/**', 'simulators/cli.ts'],
    rules: { 'no-console': 'off' },
  },
);
