import type { Logger } from 'pino';
import type { MqttConnection } from '../../../adapters/mqtt/connection.ts';
import type { LoadedCampus } from '../../../config/campus.ts';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { loadSigningKey } from '../../operations/control/commands.ts';
import { ensureControlKeys, gatewayAckKeys } from '../../operations/control/keys.ts';
import { connectControlMqtt, type ControlMqtt } from '../../operations/control/mqtt.ts';
import {
  campusMeterLocator,
  RelayControl,
  type MeterLocator,
} from '../../operations/control/relay-control.ts';

export interface ControlLinkDeps {
  /** The control service's broker login (`svc/control` where the broker has an ACL). */
  mqtt: MqttConnection;
  logger: Logger;
}

/** The back office's MQTT link to the gateways: relay commands out, acks in, audit heads out. */
export function createControlLink(deps: ControlLinkDeps): Promise<ControlMqtt> {
  return connectControlMqtt({
    url: deps.mqtt.url,
    username: deps.mqtt.username,
    password: deps.mqtt.password,
    ...(deps.mqtt.ca ? { ca: deps.mqtt.ca } : {}),
    logger: deps.logger,
  });
}

export interface RelayControlDeps {
  campus: LoadedCampus;
  db: BackofficeDb;
  audit: AuditLog;
  clock: Clock;
  link: ControlMqtt;
  log: Logger;
  /** How often relay commands without an ack are looked for (default 10 s). */
  timeoutSweepMs?: number;
  /** Why a meter's relay may not be closed now (its account out of credit), or null. */
  closeVeto?: (meter: string) => string | null;
}

export interface RunningRelayControl {
  control: RelayControl;
  locate: MeterLocator;
  stop(): Promise<void>;
}

/**
 * Relay control signing with the campus's command key (made on first start; every gateway needs
 * its public half), sending over the link and taking its acks, with the sweep for missing acks.
 */
export function createRelayControl(deps: RelayControlDeps): RunningRelayControl {
  const keys = ensureControlKeys(deps.campus);
  if (keys.created) {
    deps.log.warn(
      { publicKeyFile: keys.publicKeyFile },
      'relay command key pair created: give every gateway the public key',
    );
  }
  const locate = campusMeterLocator(deps.campus);
  const control = new RelayControl({
    db: deps.db,
    audit: deps.audit,
    clock: deps.clock,
    send: deps.link.send,
    signingKey: loadSigningKey({ file: keys.privateKeyFile }),
    locate,
    commandTtlMs: deps.campus.config.control.commandTtl,
    // Each gateway signs its acks with its own key; the control service trusts no other.
    ackKeys: gatewayAckKeys(deps.campus),
    ...(deps.closeVeto ? { closeVeto: deps.closeVeto } : {}),
  });
  deps.link.onAck((topic, payload) => control.handleAck(topic, payload));
  const stopSweep = control.startTimeoutSweep(deps.timeoutSweepMs, (err) =>
    deps.log.error({ err }, 'relay ack timeout sweep failed; the next one tries again'),
  );
  return { control, locate, stop: stopSweep };
}
