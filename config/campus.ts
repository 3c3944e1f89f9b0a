import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, formatPath, zodProblems } from './errors.ts';
import { BUILTIN_PROFILE_DIR, loadProfiles, type ProfileRegistry } from './profiles.ts';
import { loadFieldProfiles, type FieldProfileRegistry } from './field-profiles.ts';
import { fieldProtocol } from '../adapters/protocols.ts';
import { CampusSchema, type CampusConfig, type OpcuaNodeConfig } from './schemas/campus.ts';
import { QUANTITIES, unitFactor, type Quantity } from './schemas/quantities.ts';
import { lineOf } from './yaml-lines.ts';

export interface LoadedCampus {
  readonly file: string;
  readonly config: CampusConfig;
  readonly profiles: ProfileRegistry;
  /** DL/T 645, CJ/T 188 (… any field protocol's) profiles, from `<profile dir>/<protocol>/`. */
  readonly fieldProfiles: FieldProfileRegistry;
  /** `dataDir` resolved against the campus file's folder. */
  readonly dataDir: string;
}

type Problem = { path: (string | number)[]; message: string };

/**
 * Reads, parses and validates a campus file, then checks what a schema cannot: ids unique
 * campus-wide, profiles that exist and fit the meter kind, a metering tree without cycles.
 * Throws a ConfigError naming the file, the path, the line and the problem.
 */
export function loadCampus(file: string): LoadedCampus {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: e.message.split('\n')[0]! })),
    );
  }
  return validateCampus(doc.toJS(), { file, dir: dirname(abs), locate: (path) => lineOf(text, doc, path) });
}

/**
 * Validates a campus description that is already a plain object (a parsed file, or one built by
 * the demo generator), with the same checks and the same errors as a file.
 */
export function validateCampus(
  raw: unknown,
  where: { file: string; dir: string; locate?: (path: (string | number)[]) => number | undefined },
): LoadedCampus {
  const located = (problems: Problem[]) =>
    new ConfigError(
      where.file,
      problems.map((p) => ({ path: formatPath(p.path), line: where.locate?.(p.path), message: p.message })),
    );
  const parsed = CampusSchema.safeParse(raw);
  if (!parsed.success) throw located(zodProblems(parsed.error));
  const config = parsed.data;

  let profiles: ProfileRegistry;
  let fieldProfiles: FieldProfileRegistry;
  try {
    const dirs = [BUILTIN_PROFILE_DIR, ...config.profileDirs.map((d) => resolve(where.dir, d))];
    profiles = loadProfiles(dirs);
    fieldProfiles = loadFieldProfiles(dirs);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw located([{ path: ['profileDirs'], message: (e as Error).message }]);
  }

  const problems = crossCheck(config, profiles, fieldProfiles);
  if (problems.length > 0) throw located(problems);
  return Object.freeze({
    file: resolve(where.file),
    config: deepFreeze(config),
    profiles,
    fieldProfiles,
    dataDir: resolve(where.dir, config.dataDir),
  });
}

export function crossCheck(
  config: CampusConfig,
  profiles: ProfileRegistry,
  fieldProfiles: FieldProfileRegistry = new Map(),
): Problem[] {
  const problems: Problem[] = [];
  try {
    new Intl.DateTimeFormat('en', { timeZone: config.campus.timezone });
  } catch {
    problems.push({ path: ['campus', 'timezone'], message: `unknown time zone "${config.campus.timezone}"` });
  }
  const firstSeen = new Map<string, string>();
  const unique = (kind: string, id: string, path: (string | number)[]) => {
    const key = `${kind}:${id}`;
    const prev = firstSeen.get(key);
    if (prev)
      problems.push({ path: [...path, 'id'], message: `${kind} id "${id}" is already used at ${prev}` });
    else firstSeen.set(key, formatPath(path));
  };
  const parents = new Map<string, { parent: string | undefined; path: (string | number)[] }>();

  config.sites.forEach((site, si) => {
    unique('site', site.id, ['sites', si]);
    site.gateways.forEach((gw, gi) => {
      const gwPath = ['sites', si, 'gateways', gi];
      unique('gateway', gw.id, gwPath);
      const serialPaths = new Map<string, number>();
      gw.buses.forEach((bus, bi) => {
        const busPath = [...gwPath, 'buses', bi];
        unique(`bus of gateway ${gw.id}`, bus.id, busPath);
        if (bus.type === 'modbus-rtu') {
          const other = serialPaths.get(bus.path);
          if (other !== undefined) {
            problems.push({
              path: [...busPath, 'path'],
              message: `serial line ${bus.path} is already used by bus ${gw.buses[other]?.id}`,
            });
          }
          serialPaths.set(bus.path, bi);
        }
        const unitIds = new Map<number, string>();
        if (bus.type !== 'modbus-tcp' && bus.protocol !== 'modbus') {
          problems.push(...fieldBusProblems(bus, busPath, fieldProfiles));
          bus.meters.forEach((m, mi) => {
            unique('meter', m.id, [...busPath, 'meters', mi]);
            parents.set(m.id, { parent: m.parent, path: [...busPath, 'meters', mi] });
          });
          return;
        }
        bus.meters.forEach((m, mi) => {
          const mPath = [...busPath, 'meters', mi];
          unique('meter', m.id, mPath);
          const clash = unitIds.get(m.unitId);
          if (clash)
            problems.push({
              path: [...mPath, 'unitId'],
              message: `unit id ${m.unitId} is already meter ${clash} on bus ${bus.id}`,
            });
          unitIds.set(m.unitId, m.id);
          const profile = profiles.get(m.profile);
          const other = fieldProfiles.get(m.profile);
          if (!profile && other) {
            problems.push({
              path: [...mPath, 'profile'],
              message: `profile "${m.profile}" is a ${other.protocol} meter; bus ${bus.id} speaks Modbus (set its protocol)`,
            });
          } else if (!profile) {
            problems.push({
              path: [...mPath, 'profile'],
              message: `unknown profile "${m.profile}" (known: ${[...profiles.keys()].join(', ')})`,
            });
          } else if (profile.kind !== m.kind) {
            problems.push({
              path: [...mPath, 'kind'],
              message: `meter kind ${m.kind} but profile ${m.profile} is a ${profile.kind} meter`,
            });
          }
          parents.set(m.id, { parent: m.parent, path: mPath });
        });
      });
      gw.opcua.forEach((dev, di) => {
        const devPath = [...gwPath, 'opcua', di];
        unique(`device of gateway ${gw.id}`, dev.id, devPath);
        dev.meters.forEach((m, mi) => {
          const mPath = [...devPath, 'meters', mi];
          unique('meter', m.id, mPath);
          for (const [quantity, node] of Object.entries(m.nodes) as [Quantity, OpcuaNodeConfig][]) {
            if (node.unit && unitFactor(node.unit, quantity) === undefined) {
              problems.push({
                path: [...mPath, 'nodes', quantity, 'unit'],
                message: `unit ${node.unit} does not fit quantity ${quantity} (${QUANTITIES[quantity]})`,
              });
            }
          }
          parents.set(m.id, { parent: m.parent, path: mPath });
        });
      });
    });
  });

  for (const [id, { parent, path }] of parents) {
    if (parent === undefined) continue;
    if (!parents.has(parent)) {
      problems.push({ path: [...path, 'parent'], message: `parent meter "${parent}" does not exist` });
      continue;
    }
    // Walk up; a tree has no way back to where it started.
    const seen = new Set([id]);
    for (let p: string | undefined = parent; p !== undefined; p = parents.get(p)?.parent) {
      if (seen.has(p)) {
        problems.push({
          path: [...path, 'parent'],
          message: `metering tree has a cycle through meter "${id}"`,
        });
        break;
      }
      seen.add(p);
    }
  }
  return problems;
}

/**
 * A DL/T 645 or CJ/T 188 line: every meter has an address of its protocol's form, unique on the
 * line, and a profile of that protocol and kind; time sync only where the campus owns every clock.
 */
function fieldBusProblems(
  bus: Extract<CampusConfig['sites'][number]['gateways'][number]['buses'][number], { protocol: string }>,
  busPath: (string | number)[],
  fieldProfiles: FieldProfileRegistry,
): Problem[] {
  const problems: Problem[] = [];
  const protocol = fieldProtocol(bus.protocol)!;
  const addresses = new Map<string, string>();
  const unitIds = new Map<number, string>();
  bus.meters.forEach((m, mi) => {
    const mPath = [...busPath, 'meters', mi];
    const clash = unitIds.get(m.unitId);
    if (clash)
      problems.push({
        path: [...mPath, 'unitId'],
        message: `unit id ${m.unitId} is already meter ${clash} on bus ${bus.id}`,
      });
    unitIds.set(m.unitId, m.id);
    if (m.address === undefined || !protocol.address.pattern.test(m.address)) {
      problems.push({
        path: [...mPath, 'address'],
        message: `a ${protocol.title} meter needs its address: ${protocol.address.hint}`,
      });
    } else {
      const other = addresses.get(m.address);
      if (other)
        problems.push({
          path: [...mPath, 'address'],
          message: `address ${m.address} is already meter ${other} on bus ${bus.id}`,
        });
      addresses.set(m.address, m.id);
    }
    const profile = fieldProfiles.get(m.profile);
    if (!profile || profile.protocol !== bus.protocol) {
      const known = [...fieldProfiles].filter(([, p]) => p.protocol === bus.protocol).map(([id]) => id);
      problems.push({
        path: [...mPath, 'profile'],
        message: `no ${protocol.title} profile "${m.profile}" (known: ${known.join(', ') || 'none'})`,
      });
    } else if (profile.kind !== m.kind) {
      problems.push({
        path: [...mPath, 'kind'],
        message: `meter kind ${m.kind} but profile ${m.profile} is a ${profile.kind} meter`,
      });
    }
    if (bus.timeSync && m.clockOwner !== 'campus') {
      problems.push({
        path: [...mPath, 'clockOwner'],
        message: `bus ${bus.id} broadcasts the time (timeSync), which would set the clock of meter ${m.id} that the ${m.clockOwner} owns: move the meter or drop timeSync`,
      });
    }
  });
  if (bus.timeSync && bus.protocol !== 'dlt645') {
    problems.push({
      path: [...busPath, 'timeSync'],
      message: `timeSync is a DL/T 645 broadcast; bus ${bus.id} speaks ${bus.protocol}`,
    });
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: bus.clockZone });
  } catch {
    problems.push({ path: [...busPath, 'clockZone'], message: `unknown time zone "${bus.clockZone}"` });
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
