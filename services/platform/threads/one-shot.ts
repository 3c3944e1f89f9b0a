import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker, workerData, type ResourceLimits } from 'node:worker_threads';
import { ServiceError } from '../errors.ts';

/**
 * Heavy jobs of the back office on a thread of their own, one thread per job: bill runs and
 * energy reports read and judge months of readings for seconds to minutes, and on the thread that
 * serves the API, polls meters and stores readings they held everything for that long (issue 26
 * item 7: a bill run of the demo campus blocked the loop for 80–205 s). A job is rare and long, so
 * a fresh thread per job costs little (its start-up, about a second) and gives each job its own
 * connections and heap, freed when it ends; a job that crashes or outgrows its heap ends its
 * thread, not the process, and its caller gets the reason.
 *
 * The job module calls `serveOneShot(fn)`: `fn` gets the job's input (structured-cloned) and its
 * result goes back the same way.
 */

/** A module's sibling, in the extension the module itself runs as (.ts in a checkout, .js built). */
export function siblingUrl(base: string, name: string): URL {
  return new URL(`./${name}${extname(fileURLToPath(base))}`, base);
}

/**
 * A worker from a .ts file needs tsx's loader in its thread (loader hooks registered on the main
 * thread are not inherited by workers); a built .js file runs as it is.
 */
export function spawnWorker(file: URL, data: unknown, resourceLimits?: ResourceLimits): Worker {
  const options = { workerData: data, ...(resourceLimits ? { resourceLimits } : {}) };
  if (!file.pathname.endsWith('.ts')) return new Worker(file, options);
  // tsx resolved from here, not from the process's working directory (eval code resolves there).
  // (Test runners that transform modules may not offer import.meta.resolve: they run in the checkout.)
  const tsx = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

type Reply =
  | { ok: true; value: unknown }
  | { ok: false; error: { message: string; stack?: string; code?: string; status?: ServiceError['status'] } };

/** The job's error on the caller's side: a ServiceError stays one (its code and status reach the API). */
function rebuild(e: Extract<Reply, { ok: false }>['error']): Error {
  const err = e.code && e.status ? new ServiceError(e.code, e.status, e.message) : new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}

const KEY = 'oneShotJob';

/**
 * Runs the job module `file` on a new thread with `input` and resolves with what its function
 * returned; rejects with its error (a ServiceError rebuilt with its code and status, so the API
 * answers as if the job had run here), or with the reason the thread died. Jobs of one module
 * run one after another (a job asked while another of its kind runs waits for it). `signal`, or
 * `stopOneShots`, ends a job at once, waiting or running.
 */
export function runOneShot<T>(
  file: URL,
  input: unknown,
  o: { resourceLimits?: ResourceLimits; signal?: AbortSignal } = {},
): Promise<T> {
  // One job of a kind (a job module) at a time, in the order asked: jobs write the same database
  // as the back office, and each more writer is a longer wait for its own writes. Kinds do not
  // wait for each other: a bill run is not held behind a yearly report.
  const before = lines.get(file.href) ?? Promise.resolve();
  const stopper = new AbortController();
  const stop = () => stopper.abort();
  live.add(stop);
  o.signal?.addEventListener('abort', stop, { once: true });
  const signal = stopper.signal;
  const turn = before
    .then(() => runNow<T>(file, input, { ...o, signal }))
    .finally(() => {
      live.delete(stop);
      o.signal?.removeEventListener('abort', stop);
    });
  lines.set(
    file.href,
    turn.catch(() => undefined),
  );
  return turn;
}

const lines = new Map<string, Promise<unknown>>();
/** Jobs waiting for their turn or running, each with how to stop it. */
const live = new Set<() => void>();

/**
 * Stops every job of the process: those running end their threads, those waiting never start, and
 * each caller's promise rejects. For a stopping back office: a yearly report minutes from done
 * must not hold its HTTP request, and so the server's close, past the stop's deadline.
 */
export function stopOneShots(): void {
  for (const stop of [...live]) stop();
}

function runNow<T>(
  file: URL,
  input: unknown,
  o: { resourceLimits?: ResourceLimits; signal?: AbortSignal },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = spawnWorker(file, { [KEY]: input }, o.resourceLimits);
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', abort);
      f();
    };
    const abort = () => {
      settle(() => reject(new Error('the job was stopped')));
      void worker.terminate();
    };
    if (o.signal?.aborted) return abort();
    o.signal?.addEventListener('abort', abort, { once: true });
    worker.once('message', (m: Reply) => {
      settle(() => (m.ok ? resolve(m.value as T) : reject(rebuild(m.error))));
      void worker.terminate();
    });
    worker.once('error', (err) => settle(() => reject(new Error(`the job's thread died: ${err.message}`))));
    worker.once('exit', (code) =>
      settle(() => reject(new Error(`the job's thread exited with code ${code} before it answered`))),
    );
  });
}

/**
 * The job module's side: when this module was started by `runOneShot`, runs `fn` on the job's
 * input and posts its result or error. Imported anywhere else (a type import, a test) it does
 * nothing, so a job module may also be imported for its types.
 */
export function serveOneShot<I, O>(fn: (input: I) => Promise<O> | O): void {
  const data = workerData as Record<string, unknown> | null;
  if (!parentPort || !data || !(KEY in data)) return;
  const port = parentPort;
  void (async () => {
    let reply: Reply;
    try {
      reply = { ok: true, value: await fn(data[KEY] as I) };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      reply = {
        ok: false,
        error: {
          message: e.message,
          ...(e.stack ? { stack: e.stack } : {}),
          ...(e instanceof ServiceError ? { code: e.code, status: e.status } : {}),
        },
      };
    }
    port.postMessage(reply);
  })();
}
