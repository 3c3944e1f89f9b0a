import type { Logger } from 'pino';

/**
 * What the composition root has started, to stop it again newest first: on `stop()`, or when a
 * later part fails to start (so that a half-started back office leaves no socket or timer behind).
 */
export class Lifecycle {
  private readonly stops: (() => Promise<void> | void)[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  /** Registers how to stop `part` and returns it, so that a factory call reads as one line. */
  own<T>(part: T, stop: (part: T) => Promise<void> | void): T {
    this.stops.push(() => stop(part));
    return part;
  }

  /** Stops everything owned, newest first; a part that fails to stop does not keep the others running. */
  stop(): Promise<void> {
    return (this.stopping ??= this.unwind());
  }

  private async unwind(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        this.log.error({ err }, 'stopping a back-office part failed');
      }
    }
  }
}
