import { describe, expect, it } from 'vitest';
import { gatewayMetrics, type GatewayMetricsSource } from '../../gateway/metrics.ts';
import type { MetricFamily } from '../../services/platform/metrics/exposition.ts';

/** The relay command counters a gateway exports beside its polling figures. */
describe('gateway relay command metrics', () => {
  const base = {
    id: 'gw9',
    buses: [],
    opcua: [],
    publisher: { stats: () => ({ published: 0, acked: 0, inFlight: 0, connected: true }) },
    status: () => ({
      gateway: 'gw9',
      state: 'online',
      ts: 0,
      outbox: { messages: 0, bytes: 0, oldestTs: null, dropped: 0 },
    }),
  };
  const family = async (source: object): Promise<MetricFamily | undefined> =>
    (await gatewayMetrics(source as unknown as GatewayMetricsSource, () => 0)()).find(
      (f) => f.name === 'campus_energy_gateway_relay_commands_total',
    );

  it('counts commands received, executed and refused', async () => {
    const f = await family({ ...base, commandStats: () => ({ received: 7, executed: 4, refused: 3 }) });
    expect(f?.samples.map((s) => [s.labels?.outcome, s.value])).toEqual([
      ['received', 7],
      ['executed', 4],
      ['refused', 3],
    ]);
  });

  it('has no such family when the gateway takes no commands', async () => {
    expect(await family({ ...base, commandStats: () => null })).toBeUndefined();
  });
});
