import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatPath, zodProblems } from '../../config/errors.ts';
import { FaultSchema } from '../modbus/faults.ts';
import { LoadProfileNameSchema } from '../meters/load-profiles.ts';

/**
 * A campus scenario: one seeded description of the metering trees (electricity, water, heat),
 * their meters, the technical-loss parameters and the injected misbehaviour (theft, illegal
 * loads, meter tamper, communication faults). The model (model.ts) derives every meter's
 * readings from it, deterministically in (scenario, time), for fast rendering into storage
 * (render.ts) and for serving live (live.ts).
 *
 * Times are UTC ms, ISO 8601 strings, or offsets from the scenario start such as `+36h` or `+2d12h`.
 */

const Id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'ids are 1–64 letters, digits, "_", "-" or "."');

const TIME_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const TimeSchema = z.union([z.number().int(), z.string().min(1)]);
type RawTime = z.infer<typeof TimeSchema>;

/** UTC ms of a scenario time value, or NaN if it is not one. */
export function resolveTime(v: RawTime, start: number): number {
  if (typeof v === 'number') return v;
  const text = v.trim();
  if (/^\+(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) {
    let ms = 0;
    for (const part of text.slice(1).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g))
      ms += Number(part[1]) * TIME_UNITS[part[2] as keyof typeof TIME_UNITS];
    return start + Math.round(ms);
  }
  return /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
}

const WindowSchema = z
  .object({
    from: TimeSchema,
    to: TimeSchema.optional().describe('Exclusive; absent: open-ended'),
  })
  .strict();

/** A meter read over Modbus (a building main, a room, a household, a water or heat meter). */
const ModbusMeterSchema = z
  .object({
    via: z.literal('modbus'),
    id: Id.describe('Meter id, unique campus-wide'),
    profile: z.string().min(1).describe('Profile id under config/profiles'),
    bus: Id.describe('A bus of the node’s site'),
    unitId: z.number().int().min(1).max(247),
    account: z.string().min(1).optional(),
    pollInterval: z.string().optional().describe('For the campus config; default the campus default'),
  })
  .strict();

/** A substation element (transformer or feeder) read over OPC UA from the substation server. */
const OpcuaMeterSchema = z
  .object({
    via: z.literal('opcua'),
    id: Id.describe('Meter id, unique campus-wide'),
    substation: Id,
    element: Id.describe('Element id inside the substation server'),
    resolutionKwh: z.number().positive().default(0.01).describe('The energy register truncates to this'),
    voltageV: z.number().positive().optional().describe('Nominal line-to-line voltage; default by node kind'),
  })
  .strict();

export const MeterRefSchema = z.discriminatedUnion('via', [ModbusMeterSchema, OpcuaMeterSchema]);
export type MeterRef = z.infer<typeof MeterRefSchema>;

/**
 * Technical loss of a transformer, line or pipe section between this node's meter and its
 * children: P_loss = noLoadKw + loadLossKw · (S / ratedKva)². For a line, noLoadKw is 0 and the
 * second term is the I²R loss at rated current.
 */
const LossSchema = z
  .object({
    ratedKva: z.number().positive(),
    noLoadKw: z.number().nonnegative().default(0),
    loadLossKw: z.number().nonnegative().default(0).describe('Load loss at rated apparent power'),
  })
  .strict();

export const NODE_KINDS = [
  'supply',
  'substation',
  'transformer',
  'feeder',
  'building',
  'floor',
  'unit',
] as const;

export const NodeSchema = z
  .object({
    id: Id,
    site: Id,
    utility: z.enum(['electricity', 'water', 'heat']),
    kind: z.enum(NODE_KINDS),
    role: z.string().optional().describe('e.g. dorm-room, staff-household, teaching, canteen'),
    name: z.string().optional(),
    parent: Id.optional().describe('The node upstream; same site and utility'),
    meter: MeterRefSchema.optional().describe('Absent: nothing measures this node'),
    load: LoadProfileNameSchema.optional().describe('Leaves: the load profile of the consumer'),
    scale: z.number().positive().default(1).describe('Leaves: multiplies the load profile'),
    seed: z.number().int().optional().describe('Default: derived from the scenario seed and the id'),
    loss: LossSchema.optional().describe('Electricity: transformer or line loss'),
    leakShare: z.number().min(0).max(0.5).optional().describe('Water: leakage as a share of the flow out'),
    cut: z.array(WindowSchema).default([]).describe('Relay or breaker open: the node draws nothing'),
    heatingStopped: z.array(WindowSchema).default([]).describe('Heat: registered as stopped'),
  })
  .strict();
export type ScenarioNodeInput = z.input<typeof NodeSchema>;

const BusSchema = z
  .object({
    id: Id,
    type: z.enum(['modbus-tcp', 'rtu-over-tcp']).default('rtu-over-tcp'),
    name: z.string().optional(),
  })
  .strict();

const SiteSchema = z
  .object({
    id: Id,
    name: z.string().optional(),
    gateway: Id.optional().describe('Default gw-<site id>'),
    substations: z.array(z.object({ id: Id, name: z.string().optional() }).strict()).default([]),
    buses: z.array(BusSchema).default([]),
  })
  .strict();

const Window = { from: TimeSchema, to: TimeSchema.optional(), note: z.string().optional() };

export const InjectionSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('bypass'),
      node: Id,
      factor: z.number().min(0).max(1).describe('Share of the true flow the meter still registers'),
      ...Window,
    })
    .strict(),
  z
    .object({
      type: z.literal('tap'),
      node: Id.describe('Unmetered load attached below this node’s meter and above its children'),
      kw: z.number().positive().optional(),
      m3h: z.number().positive().optional(),
      ...Window,
    })
    .strict()
    .refine((t) => (t.kw === undefined) !== (t.m3h === undefined), 'give exactly one of kw and m3h'),
  z
    .object({
      type: z.literal('heater'),
      node: Id,
      kw: z.number().positive(),
      pf: z.number().min(0.9).max(1).default(1),
      ...Window,
    })
    .strict(),
  z.object({ type: z.literal('heating-while-stopped'), node: Id, ...Window }).strict(),
  z.object({ type: z.literal('meter-stopped'), node: Id, ...Window }).strict(),
  z.object({ type: z.literal('meter-backwards'), node: Id, ...Window }).strict(),
  z
    .object({
      type: z.literal('comm-fault'),
      node: Id,
      fault: FaultSchema.default({ type: 'timeout' }).describe('What the live Modbus device does'),
      render: z
        .enum(['error', 'missing'])
        .default('error')
        .describe('Fast render: an error reading per poll, or no message at all (lost)'),
      ...Window,
    })
    .strict(),
]);

const RawScenarioSchema = z
  .object({
    name: z.string().min(1).default('scenario'),
    seed: z.number().int().nonnegative(),
    start: TimeSchema.describe('Registers start at their initial values here'),
    utcOffsetMinutes: z.number().int().min(-720).max(840).default(480).describe('Local time of consumers'),
    timezone: z.string().default('Asia/Shanghai').describe('For the campus config'),
    physicsStep: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe('ms; loads are piecewise constant over this (a multiple of a minute)'),
    sites: z.array(SiteSchema).min(1),
    nodes: z.array(NodeSchema).min(1),
    injections: z.array(InjectionSchema).default([]),
  })
  .strict();

type RawScenario = z.infer<typeof RawScenarioSchema>;
type Resolved<T> = T extends { from: RawTime; to?: RawTime }
  ? Omit<T, 'from' | 'to'> & { from: number; to: number }
  : T;

export interface TimeWindow {
  from: number;
  /** Exclusive; Infinity when open-ended. */
  to: number;
}
export type Injection = Resolved<z.infer<typeof InjectionSchema>>;
export type ScenarioNode = Omit<RawScenario['nodes'][number], 'cut' | 'heatingStopped'> & {
  cut: TimeWindow[];
  heatingStopped: TimeWindow[];
};
export type ScenarioSite = Omit<RawScenario['sites'][number], 'gateway'> & { gateway: string };
export type Scenario = Omit<RawScenario, 'start' | 'nodes' | 'injections' | 'sites'> & {
  start: number;
  sites: ScenarioSite[];
  nodes: ScenarioNode[];
  injections: Injection[];
};
export type ScenarioInput = z.input<typeof RawScenarioSchema>;

const INJECTION_UTILITY: Record<Injection['type'], readonly string[]> = {
  bypass: ['electricity', 'water', 'heat'],
  tap: ['electricity', 'water'],
  heater: ['electricity'],
  'heating-while-stopped': ['heat'],
  'meter-stopped': ['electricity', 'water', 'heat'],
  'meter-backwards': ['electricity', 'water', 'heat'],
  'comm-fault': ['electricity', 'water', 'heat'],
};

type Problem = { path: (string | number)[]; message: string };

/** What a schema cannot check: references, tree shape, placement and times. */
function crossCheck(s: RawScenario): Problem[] {
  const problems: Problem[] = [];
  const start = resolveTime(s.start, 0);
  if (!Number.isFinite(start)) problems.push({ path: ['start'], message: `not a time: ${String(s.start)}` });
  if (s.physicsStep % 60_000 !== 0)
    problems.push({ path: ['physicsStep'], message: 'must be whole minutes' });
  const time = (v: RawTime | undefined, path: (string | number)[]) => {
    if (v !== undefined && !Number.isFinite(resolveTime(v, start)))
      problems.push({ path, message: `not a time: ${String(v)} (ms, ISO 8601 or an offset like +2d12h)` });
  };

  const sites = new Map(s.sites.map((site) => [site.id, site]));
  const nodes = new Map<string, RawScenario['nodes'][number]>();
  const meterIds = new Set<string>();
  const busUnits = new Set<string>();
  const elements = new Set<string>();
  s.nodes.forEach((n, i) => {
    const at = ['nodes', i];
    if (nodes.has(n.id)) problems.push({ path: [...at, 'id'], message: `duplicate node id ${n.id}` });
    nodes.set(n.id, n);
    const site = sites.get(n.site);
    if (!site) problems.push({ path: [...at, 'site'], message: `unknown site ${n.site}` });
    n.cut.forEach(
      (w, wi) => (time(w.from, [...at, 'cut', wi, 'from']), time(w.to, [...at, 'cut', wi, 'to'])),
    );
    n.heatingStopped.forEach(
      (w, wi) => (time(w.from, [...at, 'heatingStopped', wi]), time(w.to, [...at, 'heatingStopped', wi])),
    );
    const m = n.meter;
    if (!m) return;
    if (meterIds.has(m.id))
      problems.push({ path: [...at, 'meter', 'id'], message: `duplicate meter id ${m.id}` });
    meterIds.add(m.id);
    if (m.via === 'modbus') {
      if (site && !site.buses.some((b) => b.id === m.bus))
        problems.push({ path: [...at, 'meter', 'bus'], message: `site ${n.site} has no bus ${m.bus}` });
      const key = `${n.site}/${m.bus}/${m.unitId}`;
      if (busUnits.has(key))
        problems.push({
          path: [...at, 'meter', 'unitId'],
          message: `unit id ${m.unitId} used twice on ${m.bus}`,
        });
      busUnits.add(key);
    } else {
      if (n.utility !== 'electricity')
        problems.push({ path: [...at, 'meter'], message: 'substation elements measure electricity' });
      if (site && !site.substations.some((x) => x.id === m.substation))
        problems.push({
          path: [...at, 'meter', 'substation'],
          message: `site ${n.site} has no substation ${m.substation}`,
        });
      const key = `${m.substation}.${m.element}`;
      if (elements.has(key))
        problems.push({ path: [...at, 'meter', 'element'], message: `element ${key} used twice` });
      elements.add(key);
    }
  });

  const children = new Map<string, number>();
  s.nodes.forEach((n, i) => {
    if (n.parent === undefined) return;
    const p = nodes.get(n.parent);
    if (!p) return problems.push({ path: ['nodes', i, 'parent'], message: `unknown node ${n.parent}` });
    if (p.utility !== n.utility || p.site !== n.site)
      problems.push({ path: ['nodes', i, 'parent'], message: `parent ${p.id} is another site or utility` });
    children.set(p.id, (children.get(p.id) ?? 0) + 1);
    const seen = new Set([n.id]);
    for (let q: string | undefined = n.parent; q !== undefined; q = nodes.get(q)?.parent) {
      if (seen.has(q)) {
        problems.push({ path: ['nodes', i, 'parent'], message: `cycle through ${n.id}` });
        break;
      }
      seen.add(q);
    }
  });
  s.nodes.forEach((n, i) => {
    const leaf = !children.has(n.id);
    if (leaf && !n.load)
      problems.push({ path: ['nodes', i, 'load'], message: 'a leaf needs a load profile' });
    if (!leaf && n.utility === 'heat')
      problems.push({ path: ['nodes', i], message: 'heat meters are leaves (per unit)' });
  });

  s.injections.forEach((inj, i) => {
    const at = ['injections', i];
    time(inj.from, [...at, 'from']);
    time(inj.to, [...at, 'to']);
    const n = nodes.get(inj.node);
    if (!n) return problems.push({ path: [...at, 'node'], message: `unknown node ${inj.node}` });
    if (!INJECTION_UTILITY[inj.type].includes(n.utility))
      problems.push({ path: [...at, 'type'], message: `${inj.type} does not apply to a ${n.utility} node` });
    const needsMeter = !['tap', 'heater', 'heating-while-stopped'].includes(inj.type);
    if (needsMeter && !n.meter) problems.push({ path: [...at, 'node'], message: `${inj.node} has no meter` });
    if (inj.type === 'tap' && (inj.kw !== undefined) !== (n.utility === 'electricity'))
      problems.push({ path: [...at], message: 'a tap takes kw on electricity and m3h on water' });
    if ((inj.type === 'heater' || inj.type === 'heating-while-stopped') && children.has(n.id))
      problems.push({ path: [...at, 'node'], message: `${inj.type} applies to a leaf` });
  });
  return problems;
}

export const ScenarioSchema = RawScenarioSchema.superRefine((s, ctx) => {
  for (const p of crossCheck(s)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
}).transform((s): Scenario => {
  const start = resolveTime(s.start, 0);
  const win = (w: { from: RawTime; to?: RawTime | undefined }): TimeWindow => ({
    from: resolveTime(w.from, start),
    to: w.to === undefined ? Infinity : resolveTime(w.to, start),
  });
  return {
    ...s,
    start,
    sites: s.sites.map((site) => ({ ...site, gateway: site.gateway ?? `gw-${site.id}` })),
    nodes: s.nodes.map((n) => ({ ...n, cut: n.cut.map(win), heatingStopped: n.heatingStopped.map(win) })),
    injections: s.injections.map((inj) => ({ ...inj, ...win(inj) }) as Injection),
  };
});

/** Parses a scenario (a parsed file or one built in code); throws a ConfigError listing every problem. */
export function parseScenario(raw: unknown, file = '(scenario)'): Scenario {
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      zodProblems(parsed.error).map((p) => ({ path: formatPath(p.path), message: p.message })),
    );
  }
  return parsed.data;
}

/** Reads a scenario from a YAML or JSON file. */
export function loadScenarioFile(file: string): Scenario {
  return parseScenario(parseYaml(readFileSync(file, 'utf8')), file);
}
