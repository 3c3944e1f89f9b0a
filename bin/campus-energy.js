#!/usr/bin/env node
// Launcher. In a checkout the CLI is TypeScript, run through tsx's loader so that there is no
// build step between an edit and a running gateway. In an installed package (npm pack / npm
// install -g: no .ts sources, dist/ built by prepack) and inside dist/ itself, it runs the
// compiled JavaScript on node alone.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

if (existsSync(new URL('./cli.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./cli.ts');
} else if (existsSync(new URL('./cli.js', import.meta.url))) {
  await import('./cli.js');
} else {
  await import('../dist/bin/cli.js');
}
