import type { Logger } from 'pino';
import type { AuditLog } from '../../platform/audit/audit-log.ts';
import { startHeadPublisher } from '../../platform/audit/head-publisher.ts';
import type { Clock } from '../../platform/db.ts';
import type { ControlMqtt } from '../../operations/control/mqtt.ts';

export interface AuditHeadDeps {
  audit: AuditLog;
  clock: Clock;
  link: ControlMqtt;
  logger: Logger;
  /** How often the head is republished (default 60 s; also soon after each change). */
  intervalMs?: number;
}

/**
 * Publishes the audit chain's head (retained) so that a rewrite of the log shows against a copy
 * outside the database: periodically, and soon after each change.
 */
export function createAuditHead(deps: AuditHeadDeps): { stop(): Promise<void> } {
  const log = deps.logger.child({ component: 'audit-head' });
  const client = deps.link.client;
  // Rejected once a stop finds the broker gone or loses it: a publish waits in mqtt.js's offline
  // queue for the broker to come back, and the stop (which publishes the head one last time)
  // waited with it until the process's stop deadline — always so under `campus-energy run` when
  // the supervisor, which carries the embedded broker, was killed. The next start publishes the
  // head at once.
  let abandon: (err: Error) => void = () => undefined;
  const abandoned = new Promise<never>((_, reject) => (abandon = reject));
  abandoned.catch(() => undefined);
  const head = startHeadPublisher({
    audit: deps.audit,
    clock: deps.clock,
    intervalMs: deps.intervalMs ?? 60_000,
    publish: async (topic, payload, opts) => {
      await Promise.race([client.publishAsync(topic, payload, opts), abandoned]);
    },
    onError: (err) => log.warn({ err }, 'audit head not published; retrying'),
  });
  // A new head goes out soon after each change, once per burst of entries.
  let headDue = false;
  const unlisten = deps.audit.onAppend(() => {
    if (headDue) return;
    headDue = true;
    setTimeout(() => {
      headDue = false;
      void head.publishNow();
    }, 100).unref();
  });
  return {
    stop: async () => {
      unlisten();
      const giveUp = () => abandon(new Error('no broker: the audit head goes out at the next start'));
      if (client.connected) client.once('close', giveUp);
      else giveUp();
      await head.stop();
      client.off('close', giveUp);
    },
  };
}
