import { DataType, type DataValue, type StatusCode } from 'node-opcua';
import type { Quantity } from '../../config/schemas/quantities.ts';
import type { ReadingError } from '../../config/schemas/reading.ts';

export type Severity = 'good' | 'uncertain' | 'bad';

/** What the gateway keeps of one node's latest DataValue. */
export interface Sample {
  severity: Severity;
  /** The status code's name, e.g. Good, UncertainLastUsableValue, BadSensorFailure. */
  status: string;
  /** Scaled to the quantity's canonical unit; absent when bad or not a number. */
  value?: number;
  /** The server's sourceTimestamp (UTC ms), where it sent one. */
  sourceTs?: number;
}

/** OPC UA Part 4, 7.39: the two top bits of a status code are its severity. */
export function severityOf(code: StatusCode): Severity {
  const top = code.value >>> 30;
  return top === 0 ? 'good' : top === 1 ? 'uncertain' : 'bad';
}

function numeric(dv: DataValue): number | undefined {
  const v: unknown = dv.value?.value;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  // node-opcua carries Int64/UInt64 as [high, low] 32-bit words.
  const t = dv.value?.dataType;
  if ((t === DataType.Int64 || t === DataType.UInt64) && Array.isArray(v) && v.length === 2) {
    const [hi, lo] = v as [number, number];
    return hi * 2 ** 32 + lo;
  }
  return undefined;
}

/** One DataValue as the gateway keeps it: status, scaled value, source time. */
export function toSample(dv: DataValue, scale: number): Sample {
  const severity = severityOf(dv.statusCode);
  const sample: Sample = { severity, status: dv.statusCode.name };
  if (dv.sourceTimestamp) sample.sourceTs = dv.sourceTimestamp.getTime();
  if (severity !== 'bad') {
    const n = numeric(dv);
    if (n === undefined) {
      sample.severity = 'bad';
      sample.status = `NotANumber(${DataType[dv.value?.dataType ?? DataType.Null]})`;
    } else sample.value = n * scale;
  }
  return sample;
}

const UNKNOWN_NODE = new Set(['BadNodeIdUnknown', 'BadNodeIdInvalid', 'BadNoMatch', 'BadBrowseNameInvalid']);

export type MeterValues =
  | {
      values: Partial<Record<Quantity, number>>;
      deviceTs?: number;
      quality: 'good' | 'uncertain';
      flags?: string[];
    }
  | { error: ReadingError };

/**
 * A meter's reading from its nodes' latest samples. Good and Uncertain values are kept (Uncertain
 * flagged with the status names), a Bad value leaves its quantity out, and a meter with no usable
 * value at all is an error naming the statuses. `deviceTs` is the newest source timestamp used.
 */
export function meterReading(
  meterId: string,
  samples: ReadonlyMap<Quantity, Sample | undefined>,
): MeterValues {
  const values: Partial<Record<Quantity, number>> = {};
  const uncertain = new Set<string>();
  const bad: string[] = [];
  let deviceTs: number | undefined;
  let missing = 0;
  for (const [quantity, s] of samples) {
    if (!s) {
      missing++;
      continue;
    }
    if (s.severity === 'bad' || s.value === undefined) {
      bad.push(`${quantity}: ${s.status}`);
      continue;
    }
    values[quantity] = s.value;
    if (s.severity === 'uncertain') uncertain.add(s.status.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64));
    if (s.sourceTs !== undefined && (deviceTs === undefined || s.sourceTs > deviceTs)) deviceTs = s.sourceTs;
  }
  if (Object.keys(values).length === 0) {
    if (bad.length === 0 && missing > 0) {
      return { error: { code: 'OPCUA_NO_VALUE', message: `meter ${meterId}: no value received yet` } };
    }
    const statuses = bad.map((b) => b.slice(b.indexOf(': ') + 2));
    const code = statuses.every((s) => UNKNOWN_NODE.has(s))
      ? 'OPCUA_NODE_UNKNOWN'
      : statuses.every((s) => s.startsWith('NotANumber'))
        ? 'OPCUA_BAD_VALUE'
        : 'OPCUA_BAD_STATUS';
    return { error: { code, message: `meter ${meterId}: no usable value (${bad.join(', ')})` } };
  }
  const result: MeterValues = { values, quality: uncertain.size > 0 ? 'uncertain' : 'good' };
  if (deviceTs !== undefined) result.deviceTs = deviceTs;
  if (uncertain.size > 0) result.flags = ['OPCUA_UNCERTAIN', ...[...uncertain].slice(0, 15)];
  return result;
}
