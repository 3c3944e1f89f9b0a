/**
 * Prometheus text exposition format 0.0.4, written by hand: a scrape is a handful of families, and
 * a client library would bring a global registry this code base does not want (collectors are
 * plain functions over the running services, called on each scrape).
 *
 * Names follow Prometheus conventions: `campus_energy_` prefix, base units, `_total` for counters.
 */

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  labels?: Readonly<Record<string, string | number>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly Sample[];
}

/** What a metrics endpoint calls on each scrape. */
export type Collector = () => MetricFamily[] | Promise<MetricFamily[]>;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One family as exposition text; throws on a name or label a scraper would reject. */
export function renderFamily(f: MetricFamily): string {
  if (!NAME.test(f.name)) throw new Error(`metric name "${f.name}" is not valid`);
  let out = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
  for (const s of f.samples) {
    const entries = Object.entries(s.labels ?? {});
    let labels = '';
    if (entries.length > 0) {
      for (const [k] of entries)
        if (!LABEL.test(k)) throw new Error(`label "${k}" of ${f.name} is not valid`);
      labels = `{${entries.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}}`;
    }
    out += `${f.name}${labels} ${formatValue(s.value)}\n`;
  }
  return out;
}

export function renderMetrics(families: readonly MetricFamily[]): string {
  return families.map(renderFamily).join('');
}

/** Shorthand for a family of one unlabelled sample. */
export function single(name: string, type: MetricType, help: string, value: number): MetricFamily {
  return { name, type, help, samples: [{ value }] };
}

/**
 * Events per second over a sliding window of whole seconds (default 10 s), for rates a dashboard
 * wants without PromQL (the matching `_total` counter is exported too, for `rate()`).
 */
export class RateWindow {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;

  constructor(
    private readonly windowSec = 10,
    private readonly clock: () => number = Date.now,
  ) {
    this.buckets = new Float64Array(windowSec);
    this.stamps = new Float64Array(windowSec).fill(-1);
  }

  add(n = 1, now = this.clock()): void {
    const sec = Math.floor(now / 1000);
    const i = sec % this.windowSec;
    if (this.stamps[i] !== sec) {
      this.stamps[i] = sec;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
  }

  /** Mean rate over the last `windowSec` whole seconds (the current, partial one excluded). */
  perSecond(now = this.clock()): number {
    const sec = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < this.windowSec; i++) {
      const age = sec - this.stamps[i]!;
      if (age >= 1 && age <= this.windowSec) sum += this.buckets[i]!;
    }
    return sum / this.windowSec;
  }
}

/**
 * The rate of a cumulative counter someone else keeps (ingest's `stored`), from samples taken
 * once a second: (newest − oldest) / their time apart, over up to `windowSec` seconds.
 */
export class CounterRate {
  private readonly samples: { t: number; v: number }[] = [];

  constructor(private readonly windowSec = 10) {}

  sample(t: number, v: number): void {
    this.samples.push({ t, v });
    while (this.samples.length > 2 && t - this.samples[0]!.t > this.windowSec * 1000) this.samples.shift();
  }

  perSecond(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t <= first.t) return 0;
    return Math.max(0, (last.v - first.v) / ((last.t - first.t) / 1000));
  }
}
