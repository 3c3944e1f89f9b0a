/* global ResizeObserver, document */
import uPlot from '/vendor/uplot.esm.js';
import { h } from './dom.js';
import { timeZone } from './dom.js';
import { t } from './i18n.js';

/**
 * Time-series charts with uPlot: drag to zoom, double-click to zoom out, times on the axis in the
 * campus zone. `bands` shade time ranges (VEE flags, an alert's window) behind the lines.
 */

const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285'];
const BAND_COLORS = {
  fail: 'rgba(224, 49, 49, 0.18)',
  info: 'rgba(245, 159, 0, 0.18)',
  window: 'rgba(31, 111, 235, 0.08)',
};

/** Joins series of [ts, value] points on one time axis (uPlot wants aligned columns, in seconds). */
function align(series) {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((ts, i) => [ts, i]));
  const columns = series.map((s) => {
    const col = new Array(times.length).fill(null);
    for (const [ts, v] of s.points) col[index.get(ts)] = v;
    return col;
  });
  return [times.map((ts) => ts / 1000), ...columns];
}

/**
 * Draws a chart into `container`; returns { destroy }. `series`: [{ label, points, unit?, color?,
 * dash? }]; `bands`: [{ from, to, kind: 'fail'|'info'|'window', label }] in UTC ms; `range`:
 * [from, to]; `fills`: [{ upper, lower, color }] shades between two of `series` (by index), e.g.
 * energy not accounted for between the metered and the expected line.
 */
export function timeChart(container, { series, bands = [], height = 280, range, fills = [] }) {
  const holder = h('div', { class: 'chart', 'data-chart': 'uplot' });
  container.append(holder);
  const width = () => Math.max(280, holder.clientWidth || container.clientWidth || 600);
  const zone = timeZone();
  // One y scale per unit (flow in m³/h beside a temperature difference in K, power beside a power
  // factor): the first unit's axis on the left, a second one's on the right, more share the last.
  const units = [...new Set(series.map((s) => s.unit ?? ''))].slice(0, 2);
  const scaleOf = (s) => {
    const k = units.indexOf(s.unit ?? '');
    return `y${k < 0 ? units.length - 1 : k}`;
  };
  const opts = {
    width: width(),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
    // A 24-hour clock, as the control room reads time.
    // Dates as YYYY-MM-DD / MM-DD in either language, never the US month/day/year.
    fmtDate: (tpl) =>
      uPlot.fmtDate(
        tpl
          .replace(/\{h\}/g, '{HH}')
          .replace(/\{aa?\}/g, '')
          .replace('{M}/{D}/{YY}', '{YYYY}-{MM}-{DD}')
          .replace('{M}/{D}', '{MM}-{DD}'),
      ),
    cursor: { drag: { x: true, y: false, setScale: true } },
    scales: { x: { time: true }, ...Object.fromEntries(units.map((_, i) => [`y${i}`, {}])) },
    legend: { live: true },
    series: [
      { label: t('chart.time') },
      ...series.map((s, i) => ({
        label: s.unit ? `${s.label} (${s.unit})` : s.label,
        stroke: s.color ?? COLORS[i % COLORS.length],
        ...(s.dash ? { dash: s.dash } : {}),
        ...(s.fill ? { fill: s.fill } : {}),
        width: s.width ?? 1.5,
        scale: scaleOf(s),
        spanGaps: false,
        points: { show: false },
      })),
    ],
    axes: [
      {},
      { scale: 'y0', size: 60, ...(units[0] ? { label: units[0], labelSize: 18 } : {}) },
      ...(units.length > 1
        ? [
            {
              scale: 'y1',
              side: 1,
              size: 60,
              grid: { show: false },
              ...(units[1] ? { label: units[1], labelSize: 18 } : {}),
            },
          ]
        : []),
    ],
    // uPlot's series indices count the time column as 0.
    bands: fills.map((f) => ({ series: [f.upper + 1, f.lower + 1], fill: f.color })),
    hooks: {
      drawClear: [
        (u) => {
          const { ctx } = u;
          const top = u.bbox.top;
          const hgt = u.bbox.height;
          ctx.save();
          for (const b of bands) {
            const x0 = u.valToPos(b.from / 1000, 'x', true);
            const x1 = u.valToPos(b.to / 1000, 'x', true);
            ctx.fillStyle = BAND_COLORS[b.kind] ?? BAND_COLORS.info;
            ctx.fillRect(x0, top, Math.max(1, x1 - x0), hgt);
          }
          ctx.restore();
        },
      ],
    },
  };
  const plot = new uPlot(opts, align(series), holder);
  // With `range` the axis starts on the period asked for, not just the data's span (a meter
  // installed an hour ago shows as such in a 24-hour view); zooming works from there.
  if (range) plot.setScale('x', { min: range[0] / 1000, max: range[1] / 1000 });
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height }));
  observer.observe(container);
  return {
    plot,
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

/**
 * A scatter of [x, y] points as SVG (uPlot wants a time or ordered x; a day's energy against its
 * degree days is neither), with axis labels and ticks at round values. Returns the element.
 */
export function scatterChart(container, { points, xLabel, yLabel, height = 260 }) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 600;
  const H = height;
  const pad = { l: 56, r: 12, t: 12, b: 40 };
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = niceRange(Math.min(0, ...xs), Math.max(1, ...xs));
  const [y0, y1] = niceRange(Math.min(0, ...ys), Math.max(1, ...ys));
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (y) => H - pad.b - ((y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'scatter',
    role: 'img',
    'aria-label': `${yLabel} / ${xLabel}`,
  });
  for (const v of ticks(x0, x1)) {
    svg.append(el('line', { x1: X(v), x2: X(v), y1: pad.t, y2: H - pad.b, stroke: '#e9ecef' }));
    svg.append(
      el('text', { x: X(v), y: H - pad.b + 14, 'text-anchor': 'middle', 'font-size': 11 }, fmtTick(v)),
    );
  }
  for (const v of ticks(y0, y1)) {
    svg.append(el('line', { x1: pad.l, x2: W - pad.r, y1: Y(v), y2: Y(v), stroke: '#e9ecef' }));
    svg.append(el('text', { x: pad.l - 6, y: Y(v) + 4, 'text-anchor': 'end', 'font-size': 11 }, fmtTick(v)));
  }
  svg.append(el('text', { x: (W + pad.l) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12 }, xLabel));
  svg.append(
    el(
      'text',
      {
        x: 12,
        y: (H - pad.b) / 2,
        'text-anchor': 'middle',
        'font-size': 12,
        transform: `rotate(-90 12 ${(H - pad.b) / 2})`,
      },
      yLabel,
    ),
  );
  for (const [x, y] of points)
    svg.append(el('circle', { cx: X(x), cy: Y(y), r: 3, fill: COLORS[0], 'fill-opacity': 0.7 }));
  const holder = h('div', { class: 'chart', 'data-chart': 'scatter' });
  holder.append(svg);
  container.append(holder);
  return holder;
}

function niceStep(span) {
  const raw = span / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

function niceRange(lo, hi) {
  const step = niceStep(hi - lo || 1);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function ticks(lo, hi) {
  const step = niceStep(hi - lo);
  const out = [];
  for (let v = lo; v <= hi + step / 2; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function fmtTick(v) {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
}
