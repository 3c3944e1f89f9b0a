import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  DataChangeFilter,
  DataChangeTrigger,
  DeadbandType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
  makeBrowsePath,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type MonitoringParametersOptions,
  type ReadValueIdOptions,
  type UserIdentityInfo,
} from 'node-opcua';
import type { Logger } from 'pino';
import type { ReadingError } from '../../config/schemas/reading.ts';
import { OpcuaError, type OpcuaErrorCode } from './errors.ts';
import { GATEWAY_APPLICATION_NAME, certInfo, gatewayApplicationUri, parseCertificate } from './pki.ts';
import { toSample, type Sample } from './status.ts';

/** One node the gateway reads, identified by a key unique on the device (meter/quantity). */
export interface NodeSpec {
  key: string;
  nodeId?: string;
  /** From Objects, e.g. /1:SUB1/1:T1/1:power_kw. */
  browsePath?: string;
  /** Factor from the server's unit to the quantity's canonical unit. */
  scale: number;
  deadband?: { type: 'absolute' | 'percent'; value: number };
}

export type OpcuaIdentity =
  | { type: 'anonymous' }
  | { type: 'username'; username: string; password: string }
  /** Paths already resolved by the caller. */
  | { type: 'certificate'; certificateFile: string; privateKeyFile: string };

export interface OpcuaConnectionOptions {
  /** For logs and messages. */
  device: string;
  endpoint: string;
  securityMode: 'None' | 'Sign' | 'SignAndEncrypt';
  securityPolicy: 'None' | 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss';
  identity: OpcuaIdentity;
  mode: 'subscribe' | 'poll';
  publishingInterval: number;
  samplingInterval: number;
  queueSize: number;
  /** Per request and for connecting (ms). */
  timeout: number;
  reconnect: { baseBackoff: number; maxBackoff: number };
  pkiDir: string;
  nodes: readonly NodeSpec[];
  logger: Logger;
  /** The command an operator runs to trust a server certificate, without the thumbprint. */
  trustCommand?: string;
  /** A new value from a monitored item (or a node that cannot be resolved). */
  onSample: (key: string, sample: Sample) => void;
  /** A session is ready: subscriptions created, polled keys known. */
  onUp: () => void;
  /** The session is gone (or could not be created); everything cached is stale. */
  onDown: (error: ReadingError) => void;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

interface Live {
  client: OPCUAClient;
  cm: OPCUACertificateManager;
  session?: ClientSession;
  subscription?: ClientSubscription;
}

const UNKNOWN_NODE = new Set(['BadNodeIdUnknown', 'BadNodeIdInvalid', 'BadNoMatch', 'BadBrowseNameInvalid']);

/**
 * A supervised client for one OPC UA server. It runs its own loop rather than node-opcua's
 * built-in reconnection, which historically does not recover reliably after a server restart:
 * on any loss (connection, session, keep-alive, subscription) the whole client is torn down and
 * a new one is built after an exponential backoff with jitter, for as long as it runs. Every
 * attempt opens the PKI store afresh, so a certificate trusted in the meantime counts at once.
 */
export class OpcuaConnection {
  state: ConnectionState = 'disconnected';
  lastError: ReadingError | null = null;
  /** Keys read by polling: poll mode, or monitored items the server refused. */
  polledKeys = new Set<string>();
  private live: Live | null = null;
  /** Resolved node id per key; keys that do not resolve are absent. */
  private resolved = new Map<string, string>();
  private readonly byKey: Map<string, NodeSpec>;
  private stopped = false;
  private wake: (() => void) | null = null;
  private lost: ((reason: string) => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(private readonly opts: OpcuaConnectionOptions) {
    this.byKey = new Map(opts.nodes.map((n) => [n.key, n]));
    this.log = opts.logger.child({ device: opts.device, endpoint: opts.endpoint });
  }

  start(): void {
    this.loopDone ??= this.loop().catch((err: unknown) => {
      this.log.fatal({ err }, 'OPC UA supervision loop crashed');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.lost?.('stopped');
    await this.loopDone;
    this.state = 'stopped';
  }

  /**
   * Reads the current values of `keys` in one request. Throws an OpcuaError when there is no
   * session or the read fails (the connection is then rebuilt).
   */
  async read(keys: readonly string[]): Promise<Map<string, Sample>> {
    const session = this.live?.session;
    if (this.state !== 'connected' || !session) {
      throw new OpcuaError(
        (this.lastError?.code as OpcuaErrorCode | undefined) ?? 'OPCUA_DISCONNECTED',
        this.lastError?.message ?? `${this.opts.endpoint}: not connected`,
      );
    }
    const out = new Map<string, Sample>();
    const toRead: { key: string; nodeId: string }[] = [];
    for (const key of keys) {
      const nodeId = this.resolved.get(key);
      if (nodeId) toRead.push({ key, nodeId });
      else out.set(key, { severity: 'bad', status: 'BadNoMatch' });
    }
    if (toRead.length === 0) return out;
    let values: DataValue[];
    try {
      values = await withTimeout(
        session.read(
          toRead.map((r) => ({ nodeId: r.nodeId, attributeId: AttributeIds.Value })),
          0,
        ),
        this.opts.timeout,
        `read of ${toRead.length} nodes`,
      );
    } catch (err) {
      const error = this.classify(err);
      this.lost?.(`read failed: ${error.message}`);
      throw new OpcuaError(error.code as OpcuaErrorCode, error.message, { cause: err });
    }
    toRead.forEach((r, i) => {
      const dv = values[i];
      if (dv) out.set(r.key, toSample(dv, this.byKey.get(r.key)?.scale ?? 1));
    });
    return out;
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.state = 'connecting';
      let connected = false;
      try {
        await this.connectOnce();
        connected = true;
        attempt = 0;
        this.state = 'connected';
        this.lastError = null;
        this.log.info({ polled: [...this.polledKeys].length }, 'OPC UA session ready');
        this.opts.onUp();
        const reason = await new Promise<string>((resolve) => {
          this.lost = resolve;
        });
        this.lost = null;
        if (!this.stopped) {
          this.lastError = { code: 'OPCUA_DISCONNECTED', message: `${this.opts.endpoint}: ${reason}` };
          this.log.warn({ reason }, 'OPC UA session lost; reconnecting');
        }
      } catch (err) {
        this.lastError = this.classify(err);
        if (!this.stopped) this.log.error({ code: this.lastError.code }, this.lastError.message);
      }
      this.state = 'disconnected';
      if (!this.stopped || connected) this.opts.onDown(this.lastError ?? this.notConnected());
      await this.teardown();
      if (this.stopped) break;
      const base = Math.min(this.opts.reconnect.maxBackoff, this.opts.reconnect.baseBackoff * 2 ** attempt);
      attempt = Math.min(attempt + 1, 30);
      // Jitter, so that gateways cut off together do not all come back in the same instant.
      await this.sleep(Math.min(this.opts.reconnect.maxBackoff, base * (0.75 + Math.random() * 0.5)));
    }
  }

  private notConnected(): ReadingError {
    return { code: 'OPCUA_DISCONNECTED', message: `${this.opts.endpoint}: not connected` };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  private async connectOnce(): Promise<void> {
    const o = this.opts;
    const cm = new ObservingCertificateManager({
      rootFolder: o.pkiDir,
      automaticallyAcceptUnknownCertificate: false,
      disableFileWatchers: true,
    });
    const client = OPCUAClient.create({
      applicationName: GATEWAY_APPLICATION_NAME,
      applicationUri: gatewayApplicationUri(),
      clientCertificateManager: cm,
      securityMode: MessageSecurityMode[o.securityMode],
      securityPolicy: SecurityPolicy[o.securityPolicy],
      endpointMustExist: false,
      keepSessionAlive: true,
      requestedSessionTimeout: Math.max(10_000, o.timeout * 3),
      transportTimeout: o.timeout,
      // Our own loop reconnects; node-opcua's must not retry behind its back.
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    });
    this.live = { client, cm };
    const lose = (reason: string) => () => this.lost?.(reason);
    client.on('connection_lost', lose('connection lost'));
    client.on('close', lose('connection closed'));
    client.on('backoff', lose('connection lost (client backing off)'));

    await withTimeout(client.connect(o.endpoint), o.timeout, 'connect').catch((err: unknown) => {
      throw this.enrichCertError(err, cm);
    });
    const session = await withTimeout(client.createSession(this.userIdentity()), o.timeout, 'create session');
    this.live.session = session;
    session.on('session_closed', lose('session closed'));
    session.on('keepalive_failure', lose('session keep-alive failed'));

    await this.resolveNodes(session);
    this.polledKeys = new Set();
    const monitored = [...this.resolved.keys()];
    if (o.mode === 'poll') {
      for (const k of monitored) this.polledKeys.add(k);
      return;
    }
    const subscription = await withTimeout(
      session.createSubscription2({
        requestedPublishingInterval: o.publishingInterval,
        requestedLifetimeCount: 60,
        requestedMaxKeepAliveCount: 10,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      }),
      o.timeout,
      'create subscription',
    );
    this.live.subscription = subscription;
    subscription.on('terminated', lose('subscription terminated'));
    subscription.on('internal_error', (err: Error) => this.lost?.(`subscription error: ${err.message}`));
    subscription.on('status_changed', (status) => this.lost?.(`subscription status ${status.name}`));
    await this.monitor(subscription, monitored);
  }

  private userIdentity(): UserIdentityInfo {
    const id = this.opts.identity;
    switch (id.type) {
      case 'anonymous':
        return { type: UserTokenType.Anonymous };
      case 'username':
        return { type: UserTokenType.UserName, userName: id.username, password: id.password };
      case 'certificate':
        return {
          type: UserTokenType.Certificate,
          certificateData: parseCertificate(readFileSync(id.certificateFile)).raw,
          privateKey: readFileSync(id.privateKeyFile, 'utf8'),
        };
    }
  }

  /** Node ids for every key; browse paths are translated once per session. */
  private async resolveNodes(session: ClientSession): Promise<void> {
    this.resolved = new Map();
    const paths: NodeSpec[] = [];
    for (const n of this.opts.nodes) {
      if (n.nodeId) this.resolved.set(n.key, n.nodeId);
      else if (n.browsePath) paths.push(n);
    }
    if (paths.length === 0) return;
    const results = await withTimeout(
      session.translateBrowsePath(paths.map((n) => makeBrowsePath('i=85', n.browsePath!))),
      this.opts.timeout,
      'translate browse paths',
    );
    paths.forEach((n, i) => {
      const r = results[i];
      const target = r?.statusCode.isGood() ? r.targets?.[0]?.targetId : undefined;
      if (target) {
        this.resolved.set(n.key, target.toString());
      } else {
        const status = r?.statusCode.name ?? 'BadNoMatch';
        this.log.warn({ key: n.key, browsePath: n.browsePath, status }, 'browse path does not resolve');
        this.opts.onSample(n.key, { severity: 'bad', status });
      }
    });
  }

  /** One monitored item per node, grouped by filter; refused items fall back to polled reads. */
  private async monitor(subscription: ClientSubscription, keys: string[]): Promise<void> {
    const groups = new Map<string, string[]>();
    for (const key of keys) {
      const d = this.byKey.get(key)?.deadband;
      const g = d ? `${d.type}:${d.value}` : '';
      groups.set(g, [...(groups.get(g) ?? []), key]);
    }
    for (const [g, groupKeys] of groups) {
      const items: ReadValueIdOptions[] = groupKeys.map((k) => ({
        nodeId: this.resolved.get(k)!,
        attributeId: AttributeIds.Value,
      }));
      const params: MonitoringParametersOptions = {
        samplingInterval: this.opts.samplingInterval,
        queueSize: this.opts.queueSize,
        discardOldest: true,
      };
      const d = this.byKey.get(groupKeys[0]!)?.deadband;
      if (g && d) {
        params.filter = new DataChangeFilter({
          trigger: DataChangeTrigger.StatusValue,
          deadbandType: d.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
          deadbandValue: d.value,
        });
      }
      const group = ClientMonitoredItemGroup.create(subscription, items, params, TimestampsToReturn.Both);
      group.on('changed', (_item, dataValue: DataValue, index: number) => {
        const key = groupKeys[index];
        if (key !== undefined && !this.polledKeys.has(key)) {
          this.opts.onSample(key, toSample(dataValue, this.byKey.get(key)?.scale ?? 1));
        }
      });
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          group.once('initialized', () => resolve());
          group.once('terminated', (err: Error) => reject(err));
        }),
        this.opts.timeout,
        'create monitored items',
      );
      group.monitoredItems.forEach((item, i) => {
        const key = groupKeys[i]!;
        const status = item.statusCode ?? StatusCodes.Good;
        if (status.isGood()) return;
        if (UNKNOWN_NODE.has(status.name)) {
          this.log.warn({ key, status: status.name }, 'monitored item refused: node unknown');
          this.opts.onSample(key, { severity: 'bad', status: status.name });
          this.resolved.delete(key);
          return;
        }
        this.log.warn({ key, status: status.name }, 'monitored item refused; polling this node instead');
        this.polledKeys.add(key);
      });
    }
  }

  private async teardown(): Promise<void> {
    const live = this.live;
    this.live = null;
    if (!live) return;
    live.client.removeAllListeners();
    live.session?.removeAllListeners();
    live.subscription?.removeAllListeners();
    // Closing a session on a dead connection can hang until its own timeouts: do not wait long.
    await withTimeout(live.client.disconnect(), 2_000, 'disconnect').catch((err: unknown) => {
      this.log.debug({ err }, 'disconnect did not finish cleanly');
    });
    await live.cm.dispose().catch(() => undefined);
  }

  /** A thrown error as the reading error operators see. */
  private classify(err: unknown): ReadingError {
    if (err instanceof OpcuaError) return { code: err.code, message: err.message };
    const msg = err instanceof Error ? err.message : String(err);
    const where = this.opts.endpoint;
    const is = (re: RegExp) => re.test(msg);
    if (is(/cannot find endpoint/i)) {
      return {
        code: 'OPCUA_ENDPOINT_NOT_FOUND',
        message: `${where} offers no endpoint with security mode ${this.opts.securityMode} and policy ${this.opts.securityPolicy}`,
      };
    }
    if (is(/BadUserAccessDenied|BadIdentityToken|BadUserSignatureInvalid|BadIdentityChangeNotSupported/)) {
      return {
        code: 'OPCUA_AUTH_FAILED',
        message: `${where} refused the ${this.opts.identity.type} identity: ${firstLine(msg)}`,
      };
    }
    if (is(/BadSecurityChecksFailed|BadCertificate|BadSecurityPolicyRejected|BadNonceInvalid/)) {
      return {
        code: 'OPCUA_CLIENT_CERT_REJECTED',
        message: `${where} refused the secure channel (does it trust the gateway certificate in ${join(this.opts.pkiDir, 'own', 'certs')}?): ${firstLine(msg)}`,
      };
    }
    if (is(/timed? ?out|BadTimeout|BadRequestTimeout/i)) {
      return { code: 'OPCUA_TIMEOUT', message: `${where}: ${firstLine(msg)}` };
    }
    if (
      is(
        /ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|socket|closed|premature|BadConnection|BadSessionIdInvalid|BadSessionClosed|BadSecureChannel|disconnect/i,
      )
    ) {
      return { code: 'OPCUA_DISCONNECTED', message: `${where}: ${firstLine(msg)}` };
    }
    return { code: 'OPCUA_CONNECT_FAILED', message: `${where}: ${firstLine(msg)}` };
  }

  /** An untrusted server certificate becomes an error that says what to run. */
  private enrichCertError(err: unknown, cm: ObservingCertificateManager): unknown {
    const msg = err instanceof Error ? err.message : String(err);
    if (!/BadCertificateUntrusted|server Certificate verification failed/i.test(msg)) return err;
    const der = cm.lastPeerCertificate;
    let what = 'thumbprint unknown';
    let thumbprint = '<thumbprint>';
    if (der) {
      try {
        const info = certInfo(parseCertificate(der), '');
        thumbprint = info.thumbprint;
        what = `thumbprint ${thumbprint}, ${info.commonName ? `CN=${info.commonName}` : info.subject}`;
      } catch {
        // Keep the generic wording: the certificate could not be parsed.
      }
    }
    const status = /Bad[A-Za-z]+/.exec(msg)?.[0] ?? 'BadCertificateUntrusted';
    const trust =
      this.opts.trustCommand ?? 'campus-energy opcua trust --config <campus.yaml> --gateway <gateway>';
    const message =
      status === 'BadCertificateUntrusted'
        ? `server certificate of ${this.opts.endpoint} (${what}) is not trusted; it was saved in ` +
          `${join(this.opts.pkiDir, 'rejected')}. Trust it with: ${trust} ${thumbprint}`
        : `server certificate of ${this.opts.endpoint} (${what}) failed verification: ${status}`;
    return new OpcuaError('OPCUA_CERT_UNTRUSTED', message, { cause: err });
  }
}

/** Remembers the last peer certificate it was asked to verify, to name it in an error. */
class ObservingCertificateManager extends OPCUACertificateManager {
  lastPeerCertificate: Buffer | null = null;

  override verifyCertificate(
    ...args: Parameters<OPCUACertificateManager['verifyCertificate']>
  ): ReturnType<OPCUACertificateManager['verifyCertificate']> {
    const c = args[0];
    const first = Array.isArray(c) ? c[0] : c;
    if (first) this.lastPeerCertificate = first;
    return super.verifyCertificate(...args);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new OpcuaError('OPCUA_TIMEOUT', `${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
