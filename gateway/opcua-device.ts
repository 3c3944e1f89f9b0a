import type { Logger } from 'pino';
import { OpcuaConnection, type NodeSpec, type OpcuaIdentity } from '../adapters/opcua/connection.ts';
import { OpcuaError } from '../adapters/opcua/errors.ts';
import { meterReading, type Sample } from '../adapters/opcua/status.ts';
import type { OpcuaDeviceConfig, OpcuaMeterConfig } from '../config/schemas/campus.ts';
import { unitFactor, type Quantity } from '../config/schemas/quantities.ts';
import type { ReadingError } from '../config/schemas/reading.ts';
import { CircuitBreaker } from './breaker.ts';
import { DeviceHealthTracker } from './device-health.ts';
import type { PollResult } from './types.ts';

export interface OpcuaDeviceOptions {
  device: OpcuaDeviceConfig;
  /** The gateway's PKI folder (see gatewayPkiDir). */
  pkiDir: string;
  /** For `identity.type: username`: the value of `passwordEnv`, read by the caller. */
  password?: string;
  /** Resolves a path from the campus file (certificate identity files). */
  resolveFile: (p: string) => string;
  onResult: (meter: { id: string }, r: PollResult) => void;
  logger: Logger;
  clock?: () => number;
  /** Printed in the untrusted-certificate error, followed by the thumbprint. */
  trustCommand?: string;
  /** Changes of one meter arriving within this window make one reading (ms, default 50). */
  coalesceMs?: number;
}

interface MeterState {
  meter: OpcuaMeterConfig;
  samples: Map<Quantity, Sample | undefined>;
  polled: boolean;
  changeTimer: NodeJS.Timeout | null;
  heartbeat: NodeJS.Timeout | null;
  busy: boolean;
}

const KEY_SEP = '\u0000';

/**
 * One OPC UA server (a substation's SCADA gateway) as a source of readings. With a subscription a
 * meter gets a reading soon after any of its values changes, and at least every `pollInterval`
 * with the current values; in poll mode (and for nodes the server will not monitor) values are
 * read every `pollInterval`. While there is no session every meter gets an error reading per
 * interval saying why, and nothing cached is ever sent as fresh.
 */
export class OpcuaDevice {
  readonly meters: readonly OpcuaMeterConfig[];
  readonly health: DeviceHealthTracker;
  private readonly breaker: CircuitBreaker;
  private readonly states = new Map<string, MeterState>();
  private readonly connection: OpcuaConnection;
  private readonly clock: () => number;
  private readonly coalesceMs: number;
  private started = false;

  constructor(private readonly opts: OpcuaDeviceOptions) {
    const d = opts.device;
    this.meters = d.meters;
    this.clock = opts.clock ?? Date.now;
    this.coalesceMs = opts.coalesceMs ?? 50;
    this.breaker = new CircuitBreaker({ failures: 1, ...d.reconnect });
    this.health = new DeviceHealthTracker(d.id, this.breaker);
    const nodes: NodeSpec[] = [];
    for (const meter of d.meters) {
      const samples = new Map<Quantity, Sample | undefined>();
      for (const [q, node] of Object.entries(meter.nodes) as [
        Quantity,
        NonNullable<OpcuaMeterConfig['nodes'][Quantity]>,
      ][]) {
        const scale = node.unit ? unitFactor(node.unit, q) : 1;
        if (scale === undefined)
          throw new Error(`OPC UA device ${d.id}, meter ${meter.id}: unit ${node.unit} does not fit ${q}`);
        samples.set(q, undefined);
        const spec: NodeSpec = { key: `${meter.id}${KEY_SEP}${q}`, scale };
        if (node.nodeId) spec.nodeId = node.nodeId;
        if (node.browsePath) spec.browsePath = node.browsePath;
        if (node.deadband) spec.deadband = node.deadband;
        nodes.push(spec);
      }
      this.states.set(meter.id, {
        meter,
        samples,
        polled: false,
        changeTimer: null,
        heartbeat: null,
        busy: false,
      });
    }
    this.connection = new OpcuaConnection({
      device: d.id,
      endpoint: d.endpoint,
      securityMode: d.securityMode,
      securityPolicy: d.securityPolicy,
      identity: this.identity(),
      mode: d.mode,
      publishingInterval: d.publishingInterval,
      samplingInterval: d.samplingInterval,
      queueSize: d.queueSize,
      timeout: d.timeout,
      reconnect: d.reconnect,
      pkiDir: opts.pkiDir,
      nodes,
      logger: opts.logger.child({ component: 'opcua' }),
      ...(opts.trustCommand ? { trustCommand: opts.trustCommand } : {}),
      onSample: (key, sample) => this.onSample(key, sample),
      onUp: () => this.onUp(),
      onDown: (error) => this.onDown(error),
    });
  }

  get id(): string {
    return this.opts.device.id;
  }

  /** 'connected' once a session with its subscription is ready. */
  get connectionState(): string {
    return this.connection.state;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.connection.start();
    for (const s of this.states.values()) {
      s.heartbeat = setInterval(() => void this.tick(s), s.meter.pollInterval);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.states.values()) {
      if (s.heartbeat) clearInterval(s.heartbeat);
      if (s.changeTimer) clearTimeout(s.changeTimer);
      s.heartbeat = s.changeTimer = null;
    }
    await this.connection.stop();
  }

  private identity(): OpcuaIdentity {
    const id = this.opts.device.identity;
    switch (id.type) {
      case 'anonymous':
        return id;
      case 'username':
        if (this.opts.password === undefined) {
          throw new Error(
            `OPC UA device ${this.id}: identity username needs the password from ${id.passwordEnv}`,
          );
        }
        return { type: 'username', username: id.username, password: this.opts.password };
      case 'certificate':
        return {
          type: 'certificate',
          certificateFile: this.opts.resolveFile(id.certificateFile),
          privateKeyFile: this.opts.resolveFile(id.privateKeyFile),
        };
    }
  }

  private locate(key: string): { s: MeterState; q: Quantity } | undefined {
    const [meterId, q] = key.split(KEY_SEP) as [string, Quantity];
    const s = this.states.get(meterId);
    return s ? { s, q } : undefined;
  }

  private onSample(key: string, sample: Sample): void {
    const at = this.locate(key);
    if (!at) return;
    at.s.samples.set(at.q, sample);
    if (this.connection.state !== 'connected' || !this.started) return;
    // Several values of a meter usually change in the same publish: one reading for all of them.
    at.s.changeTimer ??= setTimeout(() => {
      at.s.changeTimer = null;
      this.emitValues(at.s, null);
    }, this.coalesceMs);
  }

  private onUp(): void {
    this.breaker.success();
    for (const s of this.states.values()) {
      s.polled = [...s.samples.keys()].some((q) =>
        this.connection.polledKeys.has(`${s.meter.id}${KEY_SEP}${q}`),
      );
      // Values that arrived while the subscription was being set up are news too.
      if ([...s.samples.values()].some((v) => v?.value !== undefined)) {
        s.changeTimer ??= setTimeout(() => {
          s.changeTimer = null;
          this.emitValues(s, null);
        }, this.coalesceMs);
      }
    }
  }

  private onDown(error: ReadingError): void {
    this.breaker.failure(this.clock());
    for (const s of this.states.values()) {
      // Whatever was cached came from the session that is gone: never send it as fresh.
      for (const q of s.samples.keys()) s.samples.set(q, undefined);
      if (s.changeTimer) clearTimeout(s.changeTimer);
      s.changeTimer = null;
    }
    this.opts.logger.debug({ device: this.id, code: error.code }, 'OPC UA device down');
  }

  private async tick(s: MeterState): Promise<void> {
    if (s.busy) return;
    s.busy = true;
    try {
      const ts = this.clock();
      if (this.connection.state !== 'connected') {
        this.emitError(
          s,
          ts,
          this.connection.lastError ?? {
            code: 'OPCUA_DISCONNECTED',
            message: `${this.opts.device.endpoint}: not connected yet`,
          },
        );
        return;
      }
      let latency: number | null = null;
      if (s.polled) {
        const keys = [...s.samples.keys()]
          .map((q) => `${s.meter.id}${KEY_SEP}${q}`)
          .filter((k) => this.connection.polledKeys.has(k));
        try {
          const t0 = Date.now();
          const read = await this.connection.read(keys);
          latency = Date.now() - t0;
          for (const [k, sample] of read) {
            const at = this.locate(k);
            if (at) at.s.samples.set(at.q, sample);
          }
        } catch (err) {
          const e = err instanceof OpcuaError ? err : new OpcuaError('OPCUA_DISCONNECTED', String(err));
          this.emitError(s, ts, { code: e.code, message: e.message });
          return;
        }
      }
      if (s.changeTimer) clearTimeout(s.changeTimer);
      s.changeTimer = null;
      this.emitValues(s, latency, ts);
    } finally {
      s.busy = false;
    }
  }

  private emitError(s: MeterState, ts: number, error: ReadingError): void {
    const e = { code: error.code, message: `meter ${s.meter.id}: ${error.message}` };
    this.health.record(false, null, e);
    this.opts.onResult({ id: s.meter.id }, { ts, error: e });
  }

  private emitValues(s: MeterState, latency: number | null, ts = this.clock()): void {
    const r = meterReading(s.meter.id, s.samples);
    if ('error' in r) {
      this.health.record(false, null, r.error);
      this.opts.onResult({ id: s.meter.id }, { ts, error: r.error });
      return;
    }
    this.health.record(true, latency);
    const result: PollResult = { ts, values: r.values, quality: r.quality };
    if (r.deviceTs !== undefined) result.deviceTs = r.deviceTs;
    if (r.flags) result.flags = r.flags;
    this.opts.onResult({ id: s.meter.id }, result);
  }
}

export { gatewayPkiDir } from './pki-dir.ts';
