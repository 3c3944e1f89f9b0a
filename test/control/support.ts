import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { AuditLog } from '../../services/platform/audit/audit-log.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { openBackofficeDb, type BackofficeDb } from '../../services/platform/db.ts';
import {
  commandAckTopic,
  signGatewayMessage,
  type RelayAck,
  type SignedRelayCommand,
} from '../../services/operations/control/commands.ts';
import { RelayControl, type MeterLocator } from '../../services/operations/control/relay-control.ts';

export const people = {
  operator: { id: 'wang.fang', kind: 'user', roles: ['operator'] },
  operator2: { id: 'zhao.lei', kind: 'user', roles: ['operator'] },
  supervisor: { id: 'chen.min', kind: 'user', roles: ['supervisor'] },
  supervisor2: { id: 'liu.yang', kind: 'user', roles: ['supervisor'] },
  clerk: { id: 'liu.yang', kind: 'user', roles: ['clerk'] },
  reader: { id: 'sun.li', kind: 'user', roles: ['reader'] },
} satisfies Record<string, Actor>;

/** A throwaway Ed25519 key pair: the tests never use a key from the repository. */
export function testKeys(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** Each test gateway's own ack key pair (gw1 and gw2, whatever the site). */
export const gatewayKeys = { gw1: testKeys(), gw2: testKeys() };
const ackKeys = (_site: string, gateway: string) =>
  gateway === 'gw1' || gateway === 'gw2' ? gatewayKeys[gateway].publicKey : undefined;

/** An ack as gateway `east/<gateway>` sends it: signed with its own key. */
export function signedAck(
  body: Partial<Omit<RelayAck, 'sig'>> & { id: string },
  gateway: 'gw1' | 'gw2' = 'gw1',
): string {
  const full = {
    meter: 'E-101',
    site: 'east',
    gateway,
    action: 'open' as const,
    ok: true,
    observed: 'open' as const,
    ts: 1,
    ...body,
  } as Omit<RelayAck, 'sig'>;
  return JSON.stringify(signGatewayMessage(full, gatewayKeys[gateway].privateKey));
}

/**
 * The gateway carries out every command `control` has sent and not heard back on: each is acked
 * (signed by gw1) with the relay where the command put it.
 */
export function ackEverySent(control: RelayControl, sent: readonly SignedRelayCommand[]): void {
  for (const c of sent.filter((x) => control.get(x.requestId).state === 'sent'))
    control.handleAck(
      commandAckTopic(c.site, c.gateway, c.meter),
      signedAck({
        id: c.id,
        meter: c.meter,
        action: c.action,
        observed: c.action === 'open' ? 'open' : 'closed',
      }),
    );
}

export interface ControlFixture {
  db: BackofficeDb;
  audit: AuditLog;
  control: RelayControl;
  sent: SignedRelayCommand[];
  keys: { privateKey: KeyObject; publicKey: KeyObject };
  now: { t: number };
}

export function controlFixture(
  options: {
    locate?: MeterLocator;
    send?: (c: SignedRelayCommand) => Promise<void>;
    /** The wall clock instead of a fixed, movable one (for tests against real gateways). */
    realTime?: boolean;
  } = {},
): ControlFixture {
  const now = { t: Date.UTC(2025, 10, 27, 8) };
  const clock = options.realTime ? Date.now : () => now.t;
  const db = openBackofficeDb(':memory:');
  const audit = new AuditLog(db, clock);
  const keys = testKeys();
  const sent: SignedRelayCommand[] = [];
  const locate: MeterLocator =
    options.locate ??
    ((meter) =>
      meter.startsWith('E-')
        ? { site: 'east', gateway: 'gw1', hasRelay: !meter.endsWith('-norelay') }
        : undefined);
  const control = new RelayControl({
    db,
    audit,
    clock,
    signingKey: keys.privateKey,
    locate,
    ackKeys,
    send: async (c) => {
      sent.push(c);
      await options.send?.(c);
    },
  });
  return { db, audit, control, sent, keys, now };
}
