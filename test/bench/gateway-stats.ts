import type { RunningGateway } from '../../gateway/gateway.ts';

export interface GatewayCounters {
  /** Readings appended to the outbox (sum over meters of the seqs handed out). */
  appended: number;
  /** Outbox rows the broker acknowledged (PUBACK). */
  acked: number;
  /** Outbox rows still waiting. */
  backlog: number;
  /** Polls that produced values / an error reading, from the device health trackers. */
  goodPolls: number;
  errorPolls: number;
  /** Meters with at least one good poll, and meters configured. */
  metersPolled: number;
  meters: number;
  connected: boolean;
}

export function gatewayCounters(gw: RunningGateway): GatewayCounters {
  let appended = 0;
  let goodPolls = 0;
  let errorPolls = 0;
  let metersPolled = 0;
  let meters = 0;
  for (const bus of gw.buses) {
    for (const t of bus.targets) {
      meters++;
      appended += gw.outbox.nextSeq(t.meter.id) - 1;
      const good = t.health.polls - t.health.errors;
      goodPolls += good;
      errorPolls += t.health.errors;
      if (good > 0) metersPolled++;
    }
  }
  const p = gw.publisher.stats();
  return {
    appended,
    acked: p.acked,
    backlog: gw.outbox.stats().messages,
    goodPolls,
    errorPolls,
    metersPolled,
    meters,
    connected: p.connected,
  };
}
