import { describe, expect, it } from 'vitest';
import type { Reading } from '../../config/schemas/reading.ts';
import type { BalanceResponse } from '../../services/metering/live/routes.ts';
import { brokerForFile, OPERATOR, reading, startRig } from './support.ts';

const { url: brokerUrl, rigs } = brokerForFile();

const HOUR = 3_600_000;
// On the hour in UTC, so on the hour in Asia/Shanghai too.
const T0 = Date.UTC(2024, 0, 10, 0);

/** Hourly energy registers: value at T0 + k h is values[k]; undefined: no reading then. */
function registers(meter: string, values: (number | undefined)[]): Reading[] {
  return values.flatMap((v, k) =>
    v === undefined ? [] : [reading(meter, k + 1, T0 + k * HOUR, { energy_import_kwh: v })],
  );
}

describe('GET /api/balance', () => {
  it("a node's consumption against the sum of its children's, per interval, with the loss", async () => {
    // E-BLDG-A feeds E-DORM-A-101 and E-SHOP-1. Per hour the building uses 10, 10, 8, 10 kWh and
    // its children 6 + 3 each hour; E-SHOP-1 has no reading at the last boundary.
    const seed = [
      ...registers('E-BLDG-A', [1000, 1010, 1020, 1028, 1038]),
      ...registers('E-DORM-A-101', [100, 106, 112, 118, 124]),
      ...registers('E-SHOP-1', [50, 53, 56, 59, undefined]),
    ];
    const r = await startRig({ brokerUrl: brokerUrl(), seed });
    rigs.push(r);
    const res = await fetch(`${r.url}/api/balance?node=E-BLDG-A&from=${T0}&to=${T0 + 4 * HOUR}&step=1h`, {
      headers: OPERATOR,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as BalanceResponse;
    expect(body).toMatchObject({
      node: 'E-BLDG-A',
      kind: 'electricity',
      children: ['E-DORM-A-101', 'E-SHOP-1'],
      unit: 'kWh',
      quantity: 'energy_import_kwh',
      step: '1h',
    });
    expect(body.intervals).toEqual([
      { start: T0, end: T0 + HOUR, upstream: 10, downstream: 9, loss: 1, lossPct: 10, state: 'ok' },
      {
        start: T0 + HOUR,
        end: T0 + 2 * HOUR,
        upstream: 10,
        downstream: 9,
        loss: 1,
        lossPct: 10,
        state: 'ok',
      },
      {
        start: T0 + 2 * HOUR,
        end: T0 + 3 * HOUR,
        upstream: 8,
        downstream: 9,
        loss: -1,
        lossPct: -12.5,
        state: 'negative',
      },
      {
        start: T0 + 3 * HOUR,
        end: T0 + 4 * HOUR,
        upstream: 10,
        downstream: null,
        loss: null,
        lossPct: null,
        state: 'uncomputable',
      },
    ]);

    // A day step: the local day around these hours has no registers at its midnights, so it
    // cannot be balanced.
    const day = (await (
      await fetch(`${r.url}/api/balance?node=E-BLDG-A&from=${T0}&to=${T0 + HOUR}&step=1d`, {
        headers: OPERATOR,
      })
    ).json()) as BalanceResponse;
    expect(day.intervals.map((i) => i.state)).toEqual(['uncomputable']);
  });

  it('404 UNKNOWN_METER for an unknown meter, a group or a meter without children; 400 for a bad range', async () => {
    const r = await startRig({ brokerUrl: brokerUrl() });
    rigs.push(r);
    const get = (q: string) => fetch(`${r.url}/api/balance?${q}`, { headers: OPERATOR });
    for (const node of ['NOPE', 'E-SHOP-1', 'W-BLDG-A', encodeURIComponent('gw1/ss1')]) {
      const res = await get(`node=${node}`);
      expect([node, res.status, (await res.json()).code]).toEqual([node, 404, 'UNKNOWN_METER']);
    }
    // An OPC UA transformer with feeders below it balances too (no readings: all uncomputable).
    const t1 = await get(`node=SS1-T1&from=${T0}&to=${T0 + 2 * HOUR}`);
    expect(t1.status).toBe(200);
    const body = (await t1.json()) as BalanceResponse;
    expect(body.children).toEqual(['SS1-F1', 'SS1-F2']);
    expect(body.intervals.map((i) => i.state)).toEqual(['uncomputable', 'uncomputable']);
    for (const q of [
      `node=E-BLDG-A&from=${T0}&to=${T0}`,
      `node=E-BLDG-A&from=${T0}&to=${T0 + 40 * 24 * HOUR}&step=15m`,
    ]) {
      const res = await get(q);
      expect([q, res.status, (await res.json()).code]).toEqual([q, 400, 'INVALID_RANGE']);
    }
    const bad = await get('node=E-BLDG-A&step=5m');
    expect([bad.status, (await bad.json()).code]).toEqual([400, 'INVALID_REQUEST']);
  });
});
