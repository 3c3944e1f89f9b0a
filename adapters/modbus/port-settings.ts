import { execFile } from 'node:child_process';

/**
 * What a serial port actually runs at, read back from the kernel after opening: a port or driver
 * that cannot do what was asked may accept the request and keep its old settings (a pseudo-
 * terminal, and some USB adapters, refuse parity: `parity: even` then ran silently as 8N1, and
 * every meter configured for 8E1 saw garbage). Read with `stty -F <path> -a` (Linux termios);
 * null where stty is not there to ask, and then nothing can be checked.
 */
export interface PortSettings {
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: number;
  stopBits: number;
}

export function parseStty(text: string): PortSettings | null {
  const speed = /speed (\d+) baud/.exec(text);
  const cs = /(?:^|\s)cs([5-8])(?:\s|$)/.exec(text);
  const parenb = /(?:^|\s)(-?)parenb(?:\s|$)/.exec(text);
  const parodd = /(?:^|\s)(-?)parodd(?:\s|$)/.exec(text);
  const cstopb = /(?:^|\s)(-?)cstopb(?:\s|$)/.exec(text);
  if (!speed || !cs || !parenb || !parodd || !cstopb) return null;
  return {
    baudRate: Number(speed[1]),
    parity: parenb[1] === '-' ? 'none' : parodd[1] === '-' ? 'even' : 'odd',
    dataBits: Number(cs[1]),
    stopBits: cstopb[1] === '-' ? 1 : 2,
  };
}

export function readPortSettings(path: string): Promise<PortSettings | null> {
  return new Promise((resolve) => {
    execFile('stty', ['-F', path, '-a'], { timeout: 2_000 }, (err, stdout) => {
      resolve(err ? null : parseStty(stdout));
    });
  });
}

export function describeSettings(s: PortSettings): string {
  return `${s.baudRate} ${s.dataBits}${s.parity[0]!.toUpperCase()}${s.stopBits}`;
}

/** What differs between the configured and the actual settings, named; empty when they agree. */
export function settingsMismatch(wanted: PortSettings, actual: PortSettings): string[] {
  const out: string[] = [];
  if (wanted.baudRate !== actual.baudRate)
    out.push(`baud rate ${wanted.baudRate} (runs at ${actual.baudRate})`);
  if (wanted.parity !== actual.parity) out.push(`parity ${wanted.parity} (runs with ${actual.parity})`);
  if (wanted.dataBits !== actual.dataBits)
    out.push(`${wanted.dataBits} data bits (runs with ${actual.dataBits})`);
  if (wanted.stopBits !== actual.stopBits)
    out.push(`${wanted.stopBits} stop bits (runs with ${actual.stopBits})`);
  return out;
}
