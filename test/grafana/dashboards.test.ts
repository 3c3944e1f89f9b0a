import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { InfluxStore } from '../../adapters/influx/store.ts';
import { demoScenario } from '../../simulators/scenario/demo.ts';
import { renderScenario, type RenderResult } from '../../simulators/scenario/render.ts';
import { influxdAvailable, startInfluxd, type Influxd } from '../helpers/influxd.ts';
import { testLogger } from '../helpers/logger.ts';

const DIR = 'config/grafana/dashboards';
interface Target {
  refId: string;
  query: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: { title: string; targets: Target[] }[];
  templating: { list: { name: string; query: string }[] };
}
const dashboards = readdirSync(DIR).map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard);

/**
 * The shipped Grafana dashboards against a real influxd holding a rendered campus day, written by
 * the InfluxDB store: every variable and every panel query must run without error and return
 * data, with Grafana's macros and variables substituted as Grafana would.
 */
describe('Grafana provisioning', () => {
  it('provisions the datasource the dashboards use, with no secret in the file', () => {
    const ds = parseYaml(
      readFileSync('config/grafana/provisioning/datasources/campus-energy.yaml', 'utf8'),
    ) as {
      datasources: {
        uid: string;
        type: string;
        jsonData: { dbName: string };
        secureJsonData: { password: string };
      }[];
    };
    expect(ds.datasources[0]).toMatchObject({
      uid: 'campus-energy-influx',
      type: 'influxdb',
      jsonData: { dbName: 'campus_energy' },
    });
    expect(ds.datasources[0]!.secureJsonData.password).toMatch(/^\$\{CAMPUS_INFLUX_PASSWORD/);
    for (const d of dashboards) {
      expect(JSON.stringify(d)).not.toMatch(/"uid":"(?!campus-energy)[^"]*influx/);
    }
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      'campus-energy-balance',
      'campus-energy-health',
      'campus-energy-load',
    ]);
  });

  describe.skipIf(!influxdAvailable())('queries against InfluxDB', () => {
    let influxd: Influxd;
    let store: InfluxStore;
    let truth: RenderResult;
    // Whole 6-hour groups, so the panel sums cover the same span for every meter.
    const to = Math.floor(Date.now() / 21_600_000) * 21_600_000;
    const from = to - 86_400_000;

    beforeAll(async () => {
      influxd = await startInfluxd();
      store = await InfluxStore.open({ url: influxd.url, database: 'campus_energy', logger: testLogger() });
      const scenario = demoScenario({ start: from, floors: 1, roomsPerFloor: 2, households: 2 });
      truth = await renderScenario(scenario, { from, to, stepMs: 900_000, writer: store });
    });
    afterAll(async () => {
      await store?.close();
      await influxd?.dispose();
    });

    async function query(q: string): Promise<{ series?: { values: unknown[][] }[]; error?: string }> {
      const url = `${influxd.url}/query?db=campus_energy&epoch=ms&q=${encodeURIComponent(q)}`;
      const body = (await (await fetch(url)).json()) as {
        results: { series?: { values: unknown[][] }[]; error?: string }[];
      };
      return body.results[0]!;
    }

    it('every variable and panel query runs and returns data', async () => {
      const balance = truth.balances.find((b) => b.utility === 'electricity' && b.children.length > 1)!;
      const meters = Object.values(truth.nodes).length > 0 ? balance.children.map((c) => c.meter) : [];
      const vars: Record<string, string> = {
        $timeFilter: `time >= ${from}ms AND time <= ${to}ms`,
        $__interval: '1h',
        $site: '.*',
        $meter: `(${[balance.meter, ...meters].join('|')})`,
        $feeder: balance.meter,
        $downstream: `(${meters.join('|')})`,
      };
      const substitute = (q: string) =>
        Object.entries(vars)
          .sort((a, b) => b[0].length - a[0].length)
          .reduce((s, [k, v]) => s.split(k).join(v), q);
      let checked = 0;
      for (const d of dashboards) {
        for (const v of d.templating.list) {
          const r = await query(substitute(v.query));
          expect(r.error, `${d.title} variable ${v.name}`).toBeUndefined();
          expect(r.series?.[0]?.values.length ?? 0, `${d.title} variable ${v.name}`).toBeGreaterThan(0);
          checked++;
        }
        for (const p of d.panels) {
          for (const t of p.targets) {
            const q = substitute(t.query);
            expect(q, `${d.title} / ${p.title}: unsubstituted variable`).not.toMatch(/\$\w/);
            const r = await query(q);
            expect(r.error, `${d.title} / ${p.title} ${t.refId}`).toBeUndefined();
            // Error counts may legitimately be empty on a clean day; everything else has data.
            if (!/quality" = 'error'/.test(q)) {
              expect(r.series?.length ?? 0, `${d.title} / ${p.title} ${t.refId}: ${q}`).toBeGreaterThan(0);
            }
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(10);
    });

    it('the feeder balance panel shows upstream ≥ sum of downstream by the technical loss', async () => {
      const balance = truth.balances.find((b) => b.utility === 'electricity' && b.children.length > 1)!;
      const panel = dashboards.find((d) => d.uid === 'campus-energy-balance')!.panels[0]!;
      const vars = (q: string) =>
        q
          .split('$timeFilter')
          .join(`time >= ${from}ms AND time <= ${to}ms`)
          .split('$__interval')
          .join('6h')
          .split('$feeder')
          .join(balance.meter)
          .split('$downstream')
          .join(`(${balance.children.map((c) => c.meter).join('|')})`);
      const sum = async (t: Target) =>
        ((await query(vars(t.query))).series?.[0]?.values ?? []).reduce(
          (s, row) => s + Number(row[1] ?? 0),
          0,
        );
      const up = await sum(panel.targets[0]!);
      const down = await sum(panel.targets[1]!);
      expect(
        up,
        `upstream ${balance.meter} ${up} vs downstream ${down} (${balance.children.map((c) => c.meter).join(',')})`,
      ).toBeGreaterThan(down);
      expect((up - down) / up).toBeLessThan(0.1);
    });
  });
});
