// Loaded with `node --import` by test/gateway/lean-entry.test.ts: records the URL of every module
// the process loads through the ES module loader (every package the product imports, CommonJS
// ones included) in the file named by MODULE_TRACE_FILE, one per line.
import { register } from 'node:module';
import { URL } from 'node:url';

register(new URL('./module-trace-hooks.mjs', import.meta.url), {
  data: { file: process.env.MODULE_TRACE_FILE },
});
