import { createRequire } from 'node:module';

/**
 * mqtt.js and mqtt-packet call the `debug` package some fifteen times per QoS 1 message (publish,
 * its write, the PUBACK's parse and handling). Off, each call still gathers its arguments into a
 * rest-parameter array before `debug` finds it has nothing to do: about 1.5 KB of garbage a reading
 * in the gateway at full speed, 11 % of all it allocated (sampling heap profile, issue 16 item 2).
 *
 * So the `debug` that mqtt.js and mqtt-packet will load is wrapped: a namespace the environment's
 * DEBUG does not enable gets a function that takes no arguments (nothing is gathered); an enabled
 * one gets `debug`'s own. Namespaces are settled when a module creates its debugger, at load, as
 * `debug` itself settles them from DEBUG; turning one on later with `debug.enable()` reaches only
 * modules loaded after that. Imported before mqtt (adapters/mqtt/publisher.ts); a module that
 * loaded `debug` before it keeps the original, so at worst nothing changes.
 */
interface DebugFactory {
  (namespace: string): unknown;
  enabled(namespace: string): boolean;
  [k: string]: unknown;
}

const QUIET = Symbol.for('campus-energy.quiet-debug');

function quieten(): void {
  const here = createRequire(import.meta.url);
  let path: string;
  try {
    // The copy mqtt-packet resolves (mqtt's own resolves the same one when hoisted; checked in a test).
    path = createRequire(here.resolve('mqtt-packet')).resolve('debug');
  } catch {
    return;
  }
  const real = here(path) as DebugFactory;
  if ((real as { [QUIET]?: boolean })[QUIET]) return;
  const quiet = function quietDebug(namespace: string): unknown {
    if (real.enabled(namespace)) return real(namespace);
    const off = function debugOff(): void {} as unknown as Record<string, unknown>;
    off.enabled = false;
    off.namespace = namespace;
    off.extend = (sub: string, delimiter?: string) => quiet(namespace + (delimiter ?? ':') + sub);
    off.destroy = () => false;
    off.log = () => undefined;
    return off;
  } as unknown as DebugFactory;
  for (const k of Object.keys(real)) quiet[k] = real[k];
  quiet.default = quiet;
  (quiet as { [QUIET]?: boolean })[QUIET] = true;
  const cached = here.cache[path];
  if (cached) cached.exports = quiet;
}

quieten();
