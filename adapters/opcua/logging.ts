import { format } from 'node:util';
import { setDebugLogger, setErrorLogger, setWarningLogger } from 'node-opcua';
import type { Logger } from 'pino';

/**
 * node-opcua prints its own warnings and errors straight to the console (multi-line, for every
 * failed reconnect attempt). The adapter already logs what matters with a code and the device;
 * node-opcua's own lines go to the process logger at debug level so they are there when needed
 * and never interleave with the CLI's output or a test run's.
 */
export function routeOpcuaLogs(logger: Logger): void {
  const log = logger.child({ component: 'node-opcua' });
  const to =
    (level: 'debug' | 'trace') =>
    (data?: unknown, ...rest: unknown[]) =>
      log[level](format(data, ...rest));
  setWarningLogger(to('debug'));
  setErrorLogger(to('debug'));
  setDebugLogger(to('trace'));
}
