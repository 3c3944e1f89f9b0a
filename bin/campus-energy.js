#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, run through tsx's loader so that there is no build step
// between a checkout and a running gateway.
import { register } from 'tsx/esm/api';
register();
await import('./cli.ts');
