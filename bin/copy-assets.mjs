// The build's second half: tsc compiles the TypeScript into dist/, and this copies every other
// file the running product reads (web pages, profiles, example tariffs, the launcher) beside it,
// so that dist/ runs on `node` alone.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOTS = ['gateway', 'services', 'adapters', 'config', 'simulators', 'bin'];
const SKIP = /\.(ts|tsx|md)$/;

function copy(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copy(path);
    else if (!SKIP.test(name)) cpSync(path, join('dist', path));
  }
}
for (const root of ROOTS) copy(root);
