/**
 * Where a V8 CPU profile's time went, per reading: by module (a package, a node internal, a file
 * of this project), by function's own time, and by function with everything it calls. For the
 * gateway profile (profile-gateway.ts): the list of costs above the bare loop starts here.
 */
export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/** A package, a node internal module, a file of this project, or V8's own bucket ("(garbage collector)"). */
function moduleOf(cf: CallFrame): string {
  const url = cf.url;
  if (!url) return cf.functionName.startsWith('(') ? cf.functionName : `native ${cf.functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:'))
    return url
      .replace(/^node:internal\//, 'node:')
      .split('/')
      .slice(0, 2)
      .join('/');
  const own = /\/(gateway|adapters|config|test)\/(.*)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

export function summarizeProfile(profile: CpuProfile, readings: number, rows = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const nameOf = (cf: CallFrame) =>
    `${cf.functionName || '(anonymous)'} ${moduleOf(cf)}:${cf.lineNumber + 1}`;

  const byModule = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const byTotal = new Map<string, number>();
  let busy = 0;
  const add = (m: Map<string, number>, k: string, t: number) => m.set(k, (m.get(k) ?? 0) + t);
  for (const [id, t] of timeOf) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    busy += t;
    add(byModule, moduleOf(node.callFrame), t);
    add(bySelf, nameOf(node.callFrame), t);
    // Each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const k = nameOf(byId.get(x)!.callFrame);
      if (!seen.has(k)) add(byTotal, k, t);
      seen.add(k);
    }
  }
  const perReading = (t: number) => (readings > 0 ? (t / readings).toFixed(2).padStart(7) : '');
  const list = (title: string, m: Map<string, number>) =>
    [
      `## ${title} (% of busy time, µs a reading)`,
      ...[...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, rows)
        .map(([k, t]) => `${((100 * t) / busy).toFixed(1).padStart(5)} % ${perReading(t)}  ${k}`),
    ].join('\n');
  return [
    `busy ${(busy / 1e6).toFixed(2)} s, ${perReading(busy).trim()} µs a reading`,
    list('by module, own time', byModule),
    list('by function, own time', bySelf),
    list('by function, with what it calls', byTotal),
  ].join('\n\n');
}
