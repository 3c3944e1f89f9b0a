/* global ResizeObserver */
import uPlot from '/vendor/uplot.esm.js';
import { h } from './dom.js';
import { timeZone } from './dom.js';

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
 * Draws a chart into `container`; returns { destroy }. `series`: [{ label, points, unit? }];
 * `bands`: [{ from, to, kind: 'fail'|'info'|'window', label }] in UTC ms; `range`: [from, to].
 */
export function timeChart(container, { series, bands = [], height = 280, range }) {
  const holder = h('div', { class: 'chart', 'data-chart': 'uplot' });
  container.append(holder);
  const width = () => Math.max(280, holder.clientWidth || container.clientWidth || 600);
  const zone = timeZone();
  const opts = {
    width: width(),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
    // A 24-hour clock, as the control room reads time.
    fmtDate: (tpl) => uPlot.fmtDate(tpl.replace(/\{h\}/g, '{HH}').replace(/\{aa?\}/g, '')),
    cursor: { drag: { x: true, y: false, setScale: true } },
    scales: { x: { time: true } },
    legend: { live: true },
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.unit ? `${s.label} (${s.unit})` : s.label,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        spanGaps: false,
        points: { show: false },
      })),
    ],
    axes: [{}, { size: 60 }],
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
