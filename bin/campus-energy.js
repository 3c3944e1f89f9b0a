#!/usr/bin/env node
// Launcher. In a checkout the CLI is TypeScript, run through tsx's loader so that there is no
// build step between an edit and a running gateway. In an installed package (npm pack / npm
// install -g: no .ts sources, dist/ built by prepack) and inside dist/ itself, it runs the
// compiled JavaScript on node alone.
//
// `campus-energy gateway` runs its own small program (gateway-cli): a gateway process then loads
// what a gateway uses, not the back office, ingest and simulators of the whole CLI.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

// So do `ingest`, `backoffice` and `run` (the supervisor of `campus-energy run`): a supervised part that is
// restarted after a crash is back at work in the seconds its own modules take to load.
const LEAN = {
  gateway: ['gateway-cli', 'runGatewayCli'],
  ingest: ['ingest-cli', 'runIngestCli'],
  run: ['run-cli', 'runRunCli'],
  backoffice: ['backoffice-cli', 'runBackofficeCli'],
};
const lean = Object.hasOwn(LEAN, process.argv[2] ?? '') ? LEAN[process.argv[2]] : undefined;
const entry = lean ? lean[0] : 'cli';
let mod;
if (existsSync(new URL(`./${entry}.ts`, import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(`./${entry}.ts`);
} else if (existsSync(new URL(`./${entry}.js`, import.meta.url))) {
  mod = await import(`./${entry}.js`);
} else {
  mod = await import(`../dist/bin/${entry}.js`);
}
if (lean) await mod[lean[1]](process.argv);
