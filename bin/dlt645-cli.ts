import { Option, type Command } from 'commander';
import { Dlt645Client } from '../adapters/dlt645/client.ts';
import { DLT645_LINE_CODES } from '../adapters/dlt645/errors.ts';
import { openByteLine, type LineSpec } from '../adapters/line/transport.ts';

export interface Dlt645CliHelpers {
  /** Runs an action and reports its error the way the rest of the CLI does. */
  guarded: (fn: () => Promise<void>) => Promise<void>;
  /** Where output goes (default console.log); tests capture it. */
  print?: (line: string) => void;
}

interface ScanOpts {
  path?: string;
  host?: string;
  port?: string;
  baud: string;
  parity: 'none' | 'even' | 'odd';
  timeout: string;
}

/**
 * `campus-energy dlt645 scan`: the address of the only DL/T 645 meter on a line (read address,
 * 13, to AA…AA), for commissioning: wire one meter, read its address, write it in the campus file.
 * With two or more meters on the line their answers collide and the command says so.
 */
export function registerDlt645Commands(program: Command, helpers: Dlt645CliHelpers): Command {
  const print = helpers.print ?? ((line: string) => console.log(line));
  const cmd = program.command('dlt645').description('DL/T 645-2007 meters on a serial line or converter');
  cmd
    .command('scan')
    .description('Print the address of the only meter on the line (read address to AA…AA)')
    .option('--path <device>', 'serial device, e.g. /dev/ttyUSB0')
    .option('--host <host>', 'serial-to-Ethernet converter in TCP transparent mode')
    .option('--port <port>', 'its TCP port')
    .option('--baud <rate>', 'serial baud rate', '2400')
    .addOption(
      new Option('--parity <parity>', 'serial parity').choices(['none', 'even', 'odd']).default('even'),
    )
    .option('--timeout <ms>', 'how long to wait for the answer', '2000')
    .action((opts: ScanOpts) =>
      helpers.guarded(async () => {
        const spec = lineSpecOf(opts);
        const line = await openByteLine(spec, { device: 'scan', codes: DLT645_LINE_CODES });
        try {
          const address = await new Dlt645Client(line).readAddress(Number(opts.timeout));
          print(address);
        } catch (err) {
          const e = err as { code?: string; message: string };
          if (e.code === 'DLT645_TIMEOUT')
            throw new Error(`no meter answered on ${line.describe()}: ${e.message}`);
          if (e.code === 'DLT645_GARBAGE' || e.code === 'DLT645_CHECKSUM') {
            throw new Error(`${e.message} — read address works with exactly one meter on the line`);
          }
          throw err;
        } finally {
          await line.close();
        }
      }),
    );
  return cmd;
}

function lineSpecOf(o: ScanOpts): LineSpec {
  if (o.path && o.host) throw new Error('give either --path (serial) or --host/--port (converter), not both');
  if (o.path) {
    const baudRate = Number(o.baud);
    if (!Number.isInteger(baudRate) || baudRate <= 0) throw new Error(`--baud: not a baud rate: ${o.baud}`);
    return { kind: 'serial', path: o.path, baudRate, parity: o.parity, dataBits: 8, stopBits: 1 };
  }
  if (o.host) {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`--port: not a TCP port: ${o.port ?? '(missing)'}`);
    return { kind: 'tcp', host: o.host, port };
  }
  throw new Error('give --path <serial device> or --host <converter> --port <port>');
}
