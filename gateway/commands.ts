import Database from 'better-sqlite3';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { REGISTER_WIDTH, type Profile } from '../config/schemas/profile.ts';
import {
  RelayAckSchema,
  RelayRefusalSchema,
  SignedRelayCommandSchema,
  commandAckTopic,
  gatewayCommandFilter,
  parseCommandTopic,
  signGatewayMessage,
  verifyCommandSignature,
  type CommandRefusal,
  type RelayAck,
  type RelayRefusal,
  type RelayState,
  type SignedRelayCommand,
} from '../services/operations/control/commands.ts';
import type { BusJob } from './bus-poller.ts';
import type { FieldProfile } from '../adapters/protocols.ts';
import { isFieldProfile, runFieldSwitch, type FieldSwitch } from './field-line.ts';

/**
 * The gateway's side of relay control: it takes signed commands for its own meters, refuses
 * anything it cannot trust (bad signature, expired, replayed, not its meter, no relay) without
 * touching the line, and otherwise writes the relay through the bus's own scheduler, reads the
 * state back and acks.
 *
 * Every message gets an answer on the ack topic, signed with the gateway's own key. A message the
 * gateway cannot take as a command of the control service — not one, badly signed, for another
 * gateway, or received before — gets a *refusal* naming the id it claimed, never an ack: an ack
 * is bound to a verified command id that this delivery claimed first, so nobody can make the
 * control service record a refused copy as the outcome of a genuine command.
 */

/** How far a command's issuedAt may be ahead of the gateway's clock before it is refused. */
const MAX_CLOCK_AHEAD_MS = 60_000;

/** A bus scheduler that can run a job between its polls (BusPoller). */
export interface CommandBus {
  readonly id: string;
  runBetweenPolls<T>(job: BusJob<T>): Promise<T>;
}

export interface CommandMeter {
  bus: CommandBus;
  unitId: number;
  profile: Profile | FieldProfile;
  /** DL/T 645 relay or CJ/T 188 valve: the protocol's own write and read-back (field-line.ts). */
  switchField?: FieldSwitch;
}

/** Remembers which command ids were received, durably, so a restart does not reopen replay. */
export interface SeenStore {
  /** true the first time `id` is claimed, false ever after. Commands expire, so ids may be forgotten after `expiresAt`. */
  claim(id: string, expiresAt: number, now: number): boolean;
  close(): void;
}

export interface CommandHandlerOptions {
  /** Subscribes on the gateway's MQTT connection (`Publisher.subscribe`). */
  subscribe: (
    filter: string,
    onMessage: (topic: string, payload: Buffer) => void,
  ) => Promise<() => Promise<void>>;
  /** Publishes a QoS 1, not retained message (`Publisher.publish`). */
  publish: (topic: string, payload: string) => Promise<boolean>;
  site: string;
  gateway: string;
  /** This gateway's meters by id (`commandMetersOf(buses)`). */
  meters: ReadonlyMap<string, CommandMeter>;
  /** The control service's Ed25519 public key. */
  publicKey: KeyObject;
  /** This gateway's own Ed25519 key, which signs its acks and refusals (`ensureGatewayKey`). */
  ackKey: KeyObject;
  logger: Logger;
  clock?: () => number;
  seenStore: SeenStore;
}

export interface CommandOutcome {
  topic: string;
  /** The ack of a command this delivery claimed, or the refusal of a message it could not trust. */
  ack: RelayAck | RelayRefusal;
}

export interface CommandHandler {
  /** Resolves once the broker granted the command subscription. */
  readonly ready: Promise<void>;
  /** Acks sent so far (tests, diagnostics). */
  stats(): { received: number; executed: number; refused: number };
  /** Resolves with the outcome of the next command handled (tests). */
  next(): Promise<CommandOutcome>;
  stop(): Promise<void>;
}

/** The meters of a set of bus pollers, as the command handler needs them. */
export function commandMetersOf(
  buses: Iterable<
    {
      targets: readonly {
        meter: { id: string; unitId: number };
        profile: Profile | FieldProfile;
        switchField?: FieldSwitch;
      }[];
    } & CommandBus
  >,
): Map<string, CommandMeter> {
  const meters = new Map<string, CommandMeter>();
  for (const bus of buses) {
    for (const t of bus.targets) {
      meters.set(t.meter.id, {
        bus,
        unitId: t.meter.unitId,
        profile: t.profile,
        ...(t.switchField ? { switchField: t.switchField } : {}),
      });
    }
  }
  return meters;
}

const SEEN_SCHEMA = `
CREATE TABLE IF NOT EXISTS command_seen (
  id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS command_seen_expiry ON command_seen (expires_at);
`;

/** How long past its expiry a command id is still remembered (a margin for clock steps). */
const SEEN_KEEP_AFTER_EXPIRY_MS = 24 * 3_600_000;

/**
 * The replay memory in SQLite: a small file next to the outbox (or the outbox file itself, as its
 * own table). Committed with synchronous=FULL before the relay is touched, so a command seen just
 * before a crash or power cut is still refused after it.
 */
export function openSeenStore(path: string): SeenStore {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SEEN_SCHEMA);
  const insert = db.prepare('INSERT OR IGNORE INTO command_seen (id, expires_at, seen_at) VALUES (?, ?, ?)');
  const prune = db.prepare('DELETE FROM command_seen WHERE expires_at < ?');
  let lastPrune = 0;
  return {
    claim(id, expiresAt, now) {
      if (now - lastPrune > 3_600_000) {
        prune.run(now - SEEN_KEEP_AFTER_EXPIRY_MS);
        lastPrune = now;
      }
      return insert.run(id, expiresAt, now).changes === 1;
    },
    close: () => db.close(),
  };
}

class Refusal extends Error {
  constructor(
    readonly code: CommandRefusal,
    message: string,
    readonly observed: RelayState | null = null,
    /** The command, once its signature, target and first receipt are established. */
    readonly command: SignedRelayCommand | null = null,
  ) {
    super(message);
  }
}

/** A close the meter took as permission only (DL/T 645 allow closing): armed, awaiting the customer. */
class Armed {
  constructor(readonly message: string) {}
}

/**
 * Starts handling relay commands for one gateway. Wire it after the publisher and the bus
 * pollers exist; stop it before them.
 */
export function startCommandHandler(opts: CommandHandlerOptions): CommandHandler {
  const log = opts.logger.child({ component: 'relay-commands' });
  const clock = opts.clock ?? Date.now;
  const counts = { received: 0, executed: 0, refused: 0 };
  const waiters: ((o: CommandOutcome) => void)[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;
  let unsubscribe: (() => Promise<void>) | null = null;

  const ready = opts
    .subscribe(gatewayCommandFilter(opts.site, opts.gateway), (topic, payload) => {
      if (stopped) return;
      const p = handle(topic, payload).finally(() => running.delete(p));
      running.add(p);
    })
    .then((unsub) => {
      unsubscribe = unsub;
      log.info({ filter: gatewayCommandFilter(opts.site, opts.gateway) }, 'listening for relay commands');
    });
  // A caller that never awaits `ready` must not get an unhandled rejection from it.
  ready.catch((err: unknown) => log.error({ err }, 'could not subscribe to relay commands'));

  async function handle(topic: string, payload: Buffer): Promise<void> {
    counts.received++;
    const where = parseCommandTopic(topic);
    const topicMeter = where?.meter ?? '';
    let claimedId = '';
    let answer: RelayAck | RelayRefusal;
    try {
      const command = check(payload, topicMeter, (id) => {
        claimedId = id;
      });
      answer = await executeAndAck(command);
    } catch (err) {
      const refusal =
        err instanceof Refusal
          ? err
          : new Refusal('BAD_PAYLOAD', `internal error: ${(err as Error).message}`);
      counts.refused++;
      log.warn({ claimedId, topic, code: refusal.code, reason: refusal.message }, 'relay command refused');
      answer = RelayRefusalSchema.parse(
        signGatewayMessage(
          {
            refused: true as const,
            claimedId,
            meter: topicMeter.slice(0, 128),
            site: opts.site,
            gateway: opts.gateway,
            error: refusal.code,
            message: refusal.message.slice(0, 1000),
            ts: clock(),
          },
          opts.ackKey,
        ),
      );
    }
    const ackTopic = commandAckTopic(opts.site, opts.gateway, topicMeter || 'unknown');
    await opts.publish(ackTopic, JSON.stringify(answer));
    for (const w of waiters.splice(0)) w({ topic: ackTopic, ack: answer });
  }

  /** Runs a claimed command and signs its outcome, executed or failed. */
  async function executeAndAck(command: SignedRelayCommand): Promise<RelayAck> {
    const base = {
      id: command.id,
      meter: command.meter,
      site: opts.site,
      gateway: opts.gateway,
      action: command.action,
    };
    let body: Omit<RelayAck, 'sig'>;
    try {
      const observed = await execute(command);
      // Armed: the meter took the close as permission, the relay stays open for the customer's
      // button. Not ok (nothing closed) and no error (nothing failed): its own outcome.
      body =
        observed instanceof Armed
          ? { ...base, ok: false, armed: true, observed: 'open', message: observed.message, ts: clock() }
          : { ...base, ok: true, observed, ts: clock() };
      counts.executed++;
      log.info(
        {
          id: command.id,
          meter: command.meter,
          action: command.action,
          requestId: command.requestId,
          observed,
        },
        'relay switched',
      );
    } catch (err) {
      const failure =
        err instanceof Refusal
          ? err
          : new Refusal('RELAY_WRITE_FAILED', `internal error: ${(err as Error).message}`);
      body = {
        ...base,
        ok: false,
        observed: failure.observed,
        error: failure.code,
        message: failure.message.slice(0, 1000),
        ts: clock(),
      };
      counts.refused++;
      log.warn(
        { id: command.id, meter: command.meter, code: failure.code, reason: failure.message },
        'relay command failed',
      );
    }
    return RelayAckSchema.parse(signGatewayMessage(body, opts.ackKey));
  }

  function check(
    payload: Buffer,
    topicMeter: string,
    identify: (claimedId: string) => void,
  ): SignedRelayCommand {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new Refusal('BAD_PAYLOAD', 'not JSON');
    }
    // Name the id the message claims in the refusal, for the audit log; it is not trusted.
    if (json && typeof json === 'object') {
      const { id } = json as { id?: unknown };
      identify(typeof id === 'string' ? id.slice(0, 128) : '');
    }
    const parsed = SignedRelayCommandSchema.safeParse(json);
    if (!parsed.success)
      throw new Refusal('BAD_PAYLOAD', parsed.error.issues.map((i) => i.message).join('; '));
    const command = parsed.data;
    if (!verifyCommandSignature(command, opts.publicKey)) {
      throw new Refusal('BAD_SIGNATURE', 'the signature does not verify with the control service key');
    }
    // From here on the command was made by the control service; what is left is whether it is
    // meant for this gateway, now, for the first time.
    if (command.site !== opts.site || command.gateway !== opts.gateway || command.meter !== topicMeter) {
      throw new Refusal(
        'WRONG_TARGET',
        `command for ${command.site}/${command.gateway}/${command.meter} arrived on ${opts.site}/${opts.gateway}/${topicMeter}`,
      );
    }
    const now = clock();
    if (!opts.seenStore.claim(command.id, command.expiresAt, now)) {
      throw new Refusal('REPLAYED', `command ${command.id} was already received`);
    }
    return command;
  }

  async function execute(command: SignedRelayCommand): Promise<RelayState | null | Armed> {
    const now = clock();
    if (command.expiresAt <= now) {
      throw new Refusal('EXPIRED', `expired ${now - command.expiresAt} ms ago`);
    }
    if (command.issuedAt > now + MAX_CLOCK_AHEAD_MS) {
      throw new Refusal('EXPIRED', `issued ${command.issuedAt - now} ms in the future: clocks disagree`);
    }
    const target = opts.meters.get(command.meter);
    if (!target)
      throw new Refusal('UNKNOWN_METER', `meter ${command.meter} is not polled by ${opts.gateway}`);
    if (target.switchField) {
      const done = await runFieldSwitch(target.bus, target.switchField, command.action);
      if (!done.ok && 'armed' in done) return new Armed(done.message);
      if (!done.ok) throw new Refusal(done.code, done.message, done.observed);
      return done.observed;
    }
    if (isFieldProfile(target.profile))
      throw new Refusal('NO_RELAY', `meter ${command.meter} (${target.profile.model}) has no relay or valve`);
    const relay = target.profile.relay;
    if (!relay)
      throw new Refusal('NO_RELAY', `meter ${command.meter} (${target.profile.model}) has no relay`);
    const value = command.action === 'open' ? relay.openValue : relay.closedValue;
    const wanted: RelayState = command.action === 'open' ? 'open' : 'closed';
    const point = target.profile.points.find((p) => p.quantity === 'relay_closed');

    type Step =
      { written: false; error: unknown } | { written: true; raw: number | null; readError?: unknown };
    const step = await target.bus
      .runBetweenPolls<Step>(async (transport, timeoutMs) => {
        if (!transport.writeRegisters) return { written: false, error: new Error('transport cannot write') };
        try {
          await transport.writeRegisters(target.unitId, relay.address, [value], relay.writeFc, timeoutMs);
        } catch (error) {
          return { written: false, error };
        }
        if (!point || REGISTER_WIDTH[point.type] !== 1) return { written: true, raw: null };
        try {
          const regs = await transport.read(target.unitId, point.fc, point.address, 1, timeoutMs);
          return { written: true, raw: regs[0] ?? null };
        } catch (readError) {
          return { written: true, raw: null, readError };
        }
      })
      .catch((error: unknown): Step => ({ written: false, error }));

    if (!step.written) {
      throw new Refusal('RELAY_WRITE_FAILED', (step.error as Error)?.message ?? String(step.error));
    }
    if (step.readError !== undefined) {
      throw new Refusal('READBACK_FAILED', (step.readError as Error)?.message ?? String(step.readError));
    }
    if (step.raw === null) return null;
    const observed: RelayState | null =
      step.raw === relay.closedValue ? 'closed' : step.raw === relay.openValue ? 'open' : null;
    if (observed !== wanted) {
      throw new Refusal(
        'READBACK_MISMATCH',
        `relay reads back ${observed ?? `raw ${step.raw}`}, wanted ${wanted}`,
        observed,
      );
    }
    return observed;
  }

  return {
    ready,
    stats: () => ({ ...counts }),
    next: () => new Promise((resolve) => waiters.push(resolve)),
    async stop() {
      stopped = true;
      await ready.catch(() => undefined);
      await unsubscribe?.();
      await Promise.allSettled([...running]);
    },
  };
}
