import type { Logger } from 'pino';
import { FieldbusError } from '../adapters/line/errors.ts';
import { civilTimeOf } from '../adapters/line/civil-time.ts';
// The line's module is loaded only when a gateway opens a field-protocol line: it loads serialport,
// 10 MB of RSS (its native binding) that a gateway without DL/T 645 or CJ/T 188 buses does not need.
import type { ByteLine } from '../adapters/line/transport.ts';
import { Dlt645Client } from '../adapters/dlt645/client.ts';
import { fieldProtocol, type FieldProfile } from '../adapters/protocols.ts';
import type { BusConfig, MeterConfig } from '../config/schemas/campus.ts';
import type { Profile } from '../config/schemas/profile.ts';
import type { PollResult, RegisterTransport } from './types.ts';

/**
 * The gateway's side of the field protocols besides Modbus (adapters/protocols.ts): how the bus
 * scheduler opens their line, polls a meter on it, which failures cost the line time, and how a
 * relay or valve is switched. The scheduler, breaker, outbox and command path stay the ones
 * Modbus uses; this file only chooses the protocol's functions by the bus's `protocol`.
 */
type SerialBus = Extract<BusConfig, { protocol: string }>;

export function isFieldProfile(p: Profile | FieldProfile): p is FieldProfile {
  return 'protocol' in p && typeof p.protocol === 'string';
}

/** The bus as a field-protocol line, or undefined for a Modbus bus. */
export function fieldBusOf(bus: BusConfig): SerialBus | undefined {
  return bus.type !== 'modbus-tcp' && bus.protocol !== 'modbus' ? bus : undefined;
}

export function isFieldBus(bus: BusConfig): boolean {
  return fieldBusOf(bus) !== undefined;
}

/** Every profile of the campus, Modbus and field protocols (they share one namespace of ids). */
export function allProfiles(campus: {
  profiles: ReadonlyMap<string, Profile>;
  fieldProfiles: ReadonlyMap<string, FieldProfile>;
}): ReadonlyMap<string, Profile | FieldProfile> {
  return new Map<string, Profile | FieldProfile>([...campus.profiles, ...campus.fieldProfiles]);
}

function protocolOf(bus: SerialBus) {
  const p = fieldProtocol(bus.protocol);
  if (!p) throw new Error(`bus ${bus.id}: unknown protocol ${bus.protocol}`);
  return p;
}

/** Opens the bus's line: its serial port, or its converter's TCP port in transparent mode. */
export async function openFieldLine(bus: SerialBus): Promise<ByteLine> {
  const { ByteLine: lineClass, openByteLine } = await import('../adapters/line/transport.ts');
  ByteLineClass = lineClass;
  const protocol = protocolOf(bus);
  const spec =
    bus.type === 'modbus-rtu'
      ? {
          kind: 'serial' as const,
          path: bus.path,
          baudRate: bus.baudRate,
          parity: bus.parity,
          dataBits: bus.dataBits,
          stopBits: bus.stopBits,
        }
      : { kind: 'tcp' as const, host: bus.host, port: bus.port };
  return openByteLine(spec, { device: bus.id, codes: protocol.lineCodes, resyncDelayMs: bus.resyncDelay });
}

/** The line class once a line has been opened (no transport can be a line before). */
let ByteLineClass: typeof ByteLine | null = null;

function lineOf(transport: RegisterTransport, bus: BusConfig): ByteLine {
  if (!ByteLineClass || !(transport instanceof ByteLineClass))
    throw new Error(`bus ${bus.id}: transport is not a byte line`);
  return transport;
}

/** One poll of a field-protocol meter, as the scheduler's result (without ts). */
export async function pollFieldMeter(
  transport: RegisterTransport,
  bus: SerialBus,
  meter: MeterConfig,
  profile: FieldProfile,
): Promise<Omit<Extract<PollResult, { values: unknown }>, 'ts'>> {
  const r = await protocolOf(bus).poll(lineOf(transport, bus), meter.address ?? '', profile, {
    timeoutMs: bus.timeout,
    clockZone: bus.clockZone,
    device: bus.id,
  });
  return r.deviceTs === undefined ? { values: r.values } : { values: r.values, deviceTs: r.deviceTs };
}

/**
 * Failures that cost a serial line time, as for Modbus RTU: a timeout, and a bad or foreign frame
 * (after which the line is kept quiet). They open the breaker at once and are not retried.
 */
export function isCostlyFieldCode(code: string): boolean {
  return /^[A-Z0-9]+_(TIMEOUT|CHECKSUM|GARBAGE)$/.test(code) && !code.startsWith('MODBUS_');
}

export function isFieldError(err: unknown): err is FieldbusError {
  return err instanceof FieldbusError;
}

export type SwitchOutcome =
  | { ok: true; observed: 'open' | 'closed' | 'armed' | null }
  | { ok: false; code: 'RELAY_WRITE_FAILED' | 'NO_RELAY'; message: string };

/**
 * A meter's relay or valve switch for the command handler, run by the bus between two polls, or
 * undefined if the meter has none. The DL/T 645 password comes from the environment variable
 * the bus names, read once here at start-up; without it every command is refused, saying why.
 */
export function fieldSwitchOf(
  bus: BusConfig,
  meter: MeterConfig,
  profile: Profile | FieldProfile,
): FieldSwitch | undefined {
  const line = fieldBusOf(bus);
  if (!line || !isFieldProfile(profile)) return undefined;
  const protocol = protocolOf(line);
  if (!protocol.canSwitch(profile) || !protocol.control) return undefined;
  const control = protocol.control.bind(protocol);
  const password = line.control ? process.env[line.control.passwordEnv] : undefined;
  const auth =
    line.control && password !== undefined ? { password, operator: line.control.operator } : undefined;
  return async (transport, action, timeoutMs) => {
    try {
      const observed = await control(lineOf(transport, bus), meter.address ?? '', profile, action, {
        timeoutMs,
        clockZone: line.clockZone,
        device: bus.id,
        now: Date.now(),
        ...(auth ? { auth } : {}),
      });
      return { ok: true, observed };
    } catch (err) {
      // A refusal by the meter (wrong password: …_DENIED) is a failed command, never a success.
      const message =
        err instanceof FieldbusError
          ? err.forMeter(meter.id).message
          : String((err as Error)?.message ?? err);
      return { ok: false, code: 'RELAY_WRITE_FAILED', message };
    }
  };
}

/** The jobs a bus scheduler runs between polls (BusPoller.runBetweenPolls). */
interface JobRunner {
  readonly id: string;
  runBetweenPolls<T>(job: (transport: RegisterTransport, timeoutMs: number) => Promise<T>): Promise<T>;
}

/** Earliest plausible gateway clock: a gateway that booted without time must not set meters to 1970. */
const GATEWAY_CLOCK_MIN = Date.UTC(2024, 0, 1);

/**
 * DL/T 645 broadcast time set on the buses that ask for it (`timeSync`), between polls. The
 * campus schema already refused a bus with a meter whose clock the campus does not own; here the
 * gateway also refuses to broadcast its own clock if it is obviously wrong.
 */
export function startTimeSync(
  runners: readonly JobRunner[],
  buses: readonly BusConfig[],
  log: Logger,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const config of buses) {
    const bus = fieldBusOf(config);
    if (!bus || bus.protocol !== 'dlt645' || !bus.timeSync) continue;
    const every = bus.timeSync.every;
    const runner = runners.find((r) => r.id === bus.id);
    if (!runner) continue;
    const sync = () => {
      const now = Date.now();
      if (now < GATEWAY_CLOCK_MIN) {
        log.warn({ bus: bus.id, now }, 'time sync skipped: the gateway clock is not plausible');
        return;
      }
      runner
        .runBetweenPolls((transport, timeoutMs) =>
          new Dlt645Client(lineOf(transport, bus)).broadcastTime(
            civilTimeOf(Date.now(), bus.clockZone),
            timeoutMs,
          ),
        )
        .then(() => log.info({ bus: bus.id }, 'broadcast time set'))
        .catch((err: unknown) => log.warn({ bus: bus.id, err }, 'broadcast time set failed'));
    };
    sync();
    const timer = setInterval(sync, every);
    timer.unref();
    timers.push(timer);
  }
  return () => timers.forEach((t) => clearInterval(t));
}

export type FieldSwitch = (
  transport: RegisterTransport,
  action: 'open' | 'close',
  timeoutMs: number,
) => Promise<SwitchOutcome>;

/**
 * Runs a field meter's switch on its bus between polls and judges the read-back for the command
 * handler: ok only if the meter reports the wanted state. A DL/T 645 "allow closing" leaves the
 * relay open until the customer presses the button: a meter that says so is `armed`, its own
 * outcome (neither closed nor a mismatch); one that still says tripped is a mismatch.
 */
export async function runFieldSwitch(
  bus: JobRunner,
  sw: FieldSwitch,
  action: 'open' | 'close',
): Promise<
  | { ok: true; observed: 'open' | 'closed' }
  | { ok: false; armed: true; observed: 'open'; message: string }
  | {
      ok: false;
      code: 'RELAY_WRITE_FAILED' | 'READBACK_MISMATCH';
      message: string;
      observed: 'open' | 'closed' | null;
    }
> {
  const outcome = await bus
    .runBetweenPolls((transport, timeoutMs) => sw(transport, action, timeoutMs))
    .catch((err: unknown): SwitchOutcome => ({
      ok: false,
      code: 'RELAY_WRITE_FAILED',
      message: (err as Error)?.message ?? String(err),
    }));
  if (!outcome.ok) return { ok: false, code: 'RELAY_WRITE_FAILED', message: outcome.message, observed: null };
  const wanted = action === 'open' ? 'open' : 'closed';
  if (action === 'close' && outcome.observed === 'armed') {
    return {
      ok: false,
      armed: true,
      observed: 'open',
      message: 'closing allowed: the relay stays open until the customer presses the meter’s button',
    };
  }
  if (outcome.observed !== wanted) {
    return {
      ok: false,
      code: 'READBACK_MISMATCH',
      message:
        `reads back ${outcome.observed ?? 'unknown'}, wanted ${wanted}` +
        (action === 'close' && outcome.observed === 'open'
          ? ' (an "allow closing" meter closes when the customer presses its button)'
          : ''),
      observed: outcome.observed === 'armed' ? 'open' : outcome.observed,
    };
  }
  return { ok: true, observed: wanted };
}
