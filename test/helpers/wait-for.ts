/**
 * Polls `fn` until it gives a value (anything but undefined or false) and returns it: for what a
 * real process, broker or browser does in its own time. A timeout is a failure naming `what`; the
 * answer never depends on how long it took.
 */
export async function waitForValue<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
