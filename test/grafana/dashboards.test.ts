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
    // A fixed day, in whole 6-hour groups so the panel sums cover the same span for every meter:
    // nothing here may depend on the hour the test runs (retention is infinite, so a past day
    // stays queryable).
    const to = Date.UTC(2026, 10, 2, 0, 0);
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

    it('the feeder balance panel shows upstream − downstream = the technical loss the campus has', async () => {
      // A node with a transformer or line between its meter and its children: the substation
      // incomer against its outgoing feeders is a busbar with no loss, where upstream and
      // downstream agree to the register's resolution and either may come out ahead.
      const balance = truth.balances
        .filter((b) => b.utility === 'electricity' && b.children.length > 1)
        .sort((a, b) => b.totals.loss - a.totals.loss)[0]!;
      // The panel's differences run from the last reading of the first 6-hour group to the
      // reading at `to`: the truth over those intervals is what it must show.
      const first = 21_600_000 / truth.stepMs - 1;
      let explained = 0;
      for (let k = first; k < truth.intervals; k++) {
        explained +=
          balance.intervals.loss[k]! + balance.intervals.theft[k]! + balance.intervals.unmetered[k]!;
      }
      expect(explained, `${balance.meter} has a technical loss`).toBeGreaterThan(1);
      const panel = dashboards.find((d) => d.uid === 'campus-energy-balance')!.panels[0]!;
      const vars = (q: string) =>
        q
          .split('$timeFilter')
          // Grafana's filter ends at `to`'s whole millisecond; a point's time has its seq's digits
          // below the millisecond (adapters/influx/line-protocol.ts), so the reading at `to`, where
          // the truth's span ends, is taken to the end of its millisecond (in nanoseconds).
          .join(`time >= ${from}ms AND time <= ${to}999999`)
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
      const what = `upstream ${balance.meter} ${up} vs downstream ${down} (${balance.children.map((c) => c.meter).join(',')}), truth over the same span ${explained}`;
      expect(up, what).toBeGreaterThan(down);
      // Registers carry 0.01 kWh: each of the 1 + n meters may round by one step at either end.
      const resolution = 0.01 * 2 * (1 + balance.children.length);
      expect(Math.abs(up - down - explained), what).toBeLessThan(resolution);
    });
  });
});
