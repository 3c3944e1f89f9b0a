import { afterEach } from 'vitest';

/**
 * `open`, with whatever it opened closed after the test that opened it (whether the test passed
 * or not), so that a failing test leaves no database or store open for the next one. Call it once
 * at a test file's top level: it registers the file's afterEach.
 */
export function closedAfterEach<A extends unknown[], T extends { close(): Promise<void> | void }>(
  open: (...args: A) => Promise<T>,
): (...args: A) => Promise<T> {
  const opened: T[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
  });
  return async (...args) => {
    const o = await open(...args);
    opened.push(o);
    return o;
  };
}
