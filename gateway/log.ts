import { pino, type Logger } from 'pino';

/** One structured logger for the process; components take a child with their namespace. */
export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
