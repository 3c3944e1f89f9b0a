/**
 * The link between `campus-energy run` and its parts: each part is started with an IPC channel to
 * the supervisor, which the kernel closes however the supervisor ends — SIGKILL, the OOM killer,
 * a crash — and the part then stops as on SIGTERM.
 *
 * Without it a supervisor killed outright left its parts running as orphans (found by
 * test/integration/fault-suite-embedded.test.ts): a gateway still polling the meters and numbering
 * into the same outbox as the next supervisor's gateway (two masters on one RS-485 line), ingest
 * and the gateway logging in to the new embedded broker with the same accounts as their
 * successors, and the back office holding the HTTP port, so the new one failed to bind and was
 * restarted over and over. systemd kills the whole cgroup; a start from a shell or `nohup` does not.
 *
 * Only a part whose supervisor asked for the link (the environment variable below, beside the
 * channel) watches it: a process forked by something else, a test runner's worker included, keeps
 * its IPC channel to itself.
 */

export const PARENT_LINK_ENV = 'CAMPUS_PARENT_LINK';

/** The stdio of a linked part: no stdin, the supervisor's stdout and stderr, the IPC channel. */
export const LINKED_STDIO = ['ignore', 'inherit', 'inherit', 'ipc'] as const;

/** The environment of a linked part: `env` with the link asked for. */
export function linkedEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, [PARENT_LINK_ENV]: 'ipc' };
}

/**
 * Calls `gone` once this process's supervisor has gone (soon, if it has gone already); does nothing
 * in a process no supervisor linked. Call it once, as the process starts. Returns whether a
 * supervisor linked this process.
 */
export function onParentGone(gone: () => void): boolean {
  // process.send exists in a process started with an IPC channel, and stays once the channel has
  // closed (process.channel is null by then).
  if (process.env[PARENT_LINK_ENV] !== 'ipc' || typeof process.send !== 'function') return false;
  // The part's own children (a serial port's `stty`, say) are not linked to anyone.
  delete process.env[PARENT_LINK_ENV];
  if (!process.connected) {
    queueMicrotask(gone);
    return true;
  }
  process.once('disconnect', gone);
  // Listening for the channel's end must not by itself keep the process alive.
  process.channel?.unref();
  return true;
}
