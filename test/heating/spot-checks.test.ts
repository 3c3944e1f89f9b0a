import { afterEach, describe, expect, it } from 'vitest';
import { uniformOf, weightedDraw } from '../../services/operations/heating/draw.ts';
import { evidenceWeight } from '../../services/operations/heating/evidence.ts';
import type { StoredReading } from '../../services/metering/storage.ts';
import { DAY, heatingFixture, inspector, signedStop, type HeatingFixture } from './support.ts';
import { T0 } from '../outages/support.ts';

/**
 * The inspectors' spot-check list: drawn from the units registered stopped now, weighted by what
 * each heat meter showed since its lock, with a recorded seed so that anyone recomputes it.
 */

let f: HeatingFixture | undefined;
afterEach(async () => {
  await f?.store.close();
  f = undefined;
});

const UNITS = ['H-E-H01', 'H-E-H02', 'H-E-H03', 'H-E-H04', 'H-E-H05'];

/** Five stopped units; H-E-H03's meter went on counting: 36 kWh and flow in every reading. */
async function stoppedCampus() {
  f = heatingFixture();
  for (const u of UNITS) signedStop(f, u);
  const locked = f.time.now;
  f.time.now += 2 * DAY;
  const readings: StoredReading[] = [];
  for (const [i, u] of UNITS.entries())
    for (let ts = locked, seq = 1; ts < f.time.now; ts += 3_600_000, seq++) {
      const warm = u === 'H-E-H03';
      readings.push({
        ...{ meter: u, ts, seq, quality: 'good', site: 'east', gateway: 'gw-e1', kind: 'heat' },
        values: { heat_kwh: 1_000 * (i + 1) + (warm ? 0.75 * (seq - 1) : 0), flow_m3h: warm ? 0.4 : 0 },
      });
    }
  await f.store.writeReadings(readings);
  return f;
}

describe('heating spot checks', () => {
  it('weigh a stopped unit by its heat meter and record a reproducible list', async () => {
    const f = await stoppedCampus();
    const c = await f.spots.draw(inspector, { size: 2, seed: 'dec-1' });
    const warm = c.candidates.find((x) => x.unit === 'H-E-H03')!;
    // 48 hourly readings, 47 steps of 0.75 kWh = 35.25 kWh, flow in every reading.
    expect(warm).toMatchObject({ energyKwh: 35.25, flowShare: 1, weight: 1 + 35 + 20 });
    for (const x of c.candidates.filter((y) => y.unit !== 'H-E-H03'))
      expect(x).toMatchObject({ energyKwh: 0, flowShare: 0, weight: 1 });
    expect(c.drawn).toHaveLength(2);
    expect(f.spots.verify(c.id)).toEqual({ matches: true, recomputed: c.drawn });
    // The same seed draws the same list again; the draw is audited with every weight.
    expect((await f.spots.draw(inspector, { size: 2, seed: 'dec-1' })).drawn).toEqual(c.drawn);
    const entry = f.audit.query({ subject: `heating-spot-check:${c.id}` })[0]!;
    expect(entry).toMatchObject({ action: 'heating.spot-check-draw', actor: 'insp.chen' });
    // A list altered in the database no longer matches its seed.
    const row = JSON.parse(
      f.db.prepare('SELECT data FROM heating_spot_checks WHERE id = ?').pluck().get(c.id) as string,
    );
    row.drawn = UNITS.filter((u) => !c.drawn.includes(u)).slice(0, 2);
    f.db.prepare('UPDATE heating_spot_checks SET data = ? WHERE id = ?').run(JSON.stringify(row), c.id);
    expect(f.spots.verify(c.id).matches).toBe(false);
    // What the inspector found is recorded against a drawn unit only.
    const drawn = (await f.spots.draw(inspector, { size: 1, seed: 'x' })).id;
    const unit = f.spots.get(drawn).drawn[0]!;
    expect(
      f.spots.record(inspector, drawn, { unit, outcome: 'tampered', note: 'seal cut' }).findings,
    ).toMatchObject([{ unit, outcome: 'tampered', by: 'insp.chen', at: T0 + 5 * 3_600_000 + 2 * DAY }]);
    expect(() =>
      f.spots.record(inspector, drawn, { unit: UNITS.find((u) => u !== unit)!, outcome: 'tampered' }),
    ).toThrow(/not on spot-check list/);
  });

  it('draws the unit with evidence as often as its weight says, recomputed by another method', async () => {
    const f = await stoppedCampus();
    const weights = new Map(UNITS.map((u) => [u, u === 'H-E-H03' ? evidenceWeight(35.25, 1) : 1]));
    let warmFirst = 0;
    const N = 400;
    for (let i = 0; i < N; i++) {
      const seed = `s${i}`;
      const list = weightedDraw(
        [...weights].map(([id, weight]) => ({ id, weight })),
        2,
        seed,
      );
      // Another method: sort by u^(1/w) directly (Efraimidis–Spirakis's own form).
      const direct = [...weights]
        .map(([id, w]) => ({ id, key: uniformOf(seed, id) ** (1 / w) }))
        .sort((a, b) => b.key - a.key)
        .slice(0, 2)
        .map((x) => x.id);
      expect(list).toEqual(direct);
      if (list[0] === 'H-E-H03') warmFirst++;
    }
    // P(first) = 56 / (56 + 4) = 0.933…; a uniform draw would give 0.2. Fixed seeds: no flake.
    expect(warmFirst / N).toBeGreaterThan(0.88);
    expect(warmFirst / N).toBeLessThan(0.98);
    // With no stopped unit there is nothing to draw.
    const empty = heatingFixture();
    await expect(empty.spots.draw(inspector, { size: 1 })).rejects.toMatchObject({
      code: 'NO_STOPPED_UNITS',
    });
    await empty.store.close();
    expect(f.spots.list().length).toBe(0);
  });
});
