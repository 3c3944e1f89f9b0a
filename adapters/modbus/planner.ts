import {
  REGISTER_WIDTH,
  type DeviceTime,
  type Point,
  type Profile,
  type ReadFunctionCode,
} from '../../config/schemas/profile.ts';

/**
 * Turns a profile into the Modbus read requests of one poll. On a 9600-baud bus every request
 * costs tens of milliseconds of turnaround, so registers are merged into as few reads as the
 * meter allows: per function code, across gaps of at most `maxGapRegisters` unused registers,
 * never more than `maxRegistersPerRead` registers per read.
 */
export type PlannedItem =
  | { kind: 'point'; pointIndex: number; point: Point; offset: number; width: number }
  | { kind: 'exponent'; pointIndex: number; point: Point; offset: number; width: number }
  | { kind: 'deviceTime'; deviceTime: DeviceTime; offset: number; width: number };

export interface ReadBlock {
  fc: ReadFunctionCode;
  address: number;
  count: number;
  items: PlannedItem[];
}

type Unplaced = PlannedItem extends infer I ? (I extends unknown ? Omit<I, 'offset'> : never) : never;

interface Span {
  fc: ReadFunctionCode;
  address: number;
  width: number;
  item: Unplaced;
}

const KIND_ORDER: Record<PlannedItem['kind'], number> = { point: 0, exponent: 1, deviceTime: 2 };

function spansOf(profile: Profile): Span[] {
  const spans: Span[] = [];
  profile.points.forEach((point, pointIndex) => {
    const width = REGISTER_WIDTH[point.type];
    spans.push({
      fc: point.fc,
      address: point.address,
      width,
      item: { kind: 'point', pointIndex, point, width },
    });
    if (point.exponent) {
      // The exponent lives next to its value (M-Bus converters), so it is read with the same FC.
      const w = REGISTER_WIDTH[point.exponent.type];
      spans.push({
        fc: point.fc,
        address: point.exponent.address,
        width: w,
        item: { kind: 'exponent', pointIndex, point, width: w },
      });
    }
  });
  if (profile.deviceTime) {
    const dt = profile.deviceTime;
    const width = REGISTER_WIDTH[dt.type];
    spans.push({
      fc: dt.fc,
      address: dt.address,
      width,
      item: { kind: 'deviceTime', deviceTime: dt, width },
    });
  }
  return spans.sort(
    (a, b) =>
      a.fc - b.fc ||
      a.address - b.address ||
      b.width - a.width ||
      KIND_ORDER[a.item.kind] - KIND_ORDER[b.item.kind] ||
      pointIndexOf(a.item) - pointIndexOf(b.item),
  );
}

function pointIndexOf(item: Unplaced): number {
  return item.kind === 'deviceTime' ? -1 : item.pointIndex;
}

function place(fc: ReadFunctionCode, address: number, count: number, spans: Span[]): ReadBlock {
  return {
    fc,
    address,
    count,
    items: spans.map((s) => ({ ...s.item, offset: s.address - address }) as PlannedItem),
  };
}

/**
 * The fewest reads that cover every point, exponent and device-time register. Greedy over spans
 * sorted by address is optimal here: a block is extended while the next span starts within the
 * allowed gap and the block stays within the size limit; otherwise no block could hold both.
 */
export function planReads(profile: Profile): ReadBlock[] {
  const maxCount = Math.min(profile.maxRegistersPerRead, 125);
  const maxGap = profile.maxGapRegisters;
  const blocks: ReadBlock[] = [];
  let current: { fc: ReadFunctionCode; start: number; end: number; spans: Span[] } | undefined;
  const flush = (): void => {
    if (current) blocks.push(place(current.fc, current.start, current.end - current.start, current.spans));
  };
  for (const span of spansOf(profile)) {
    const spanEnd = span.address + span.width;
    if (current && current.fc === span.fc) {
      const gap = span.address - current.end;
      const newEnd = Math.max(current.end, spanEnd);
      if (gap <= maxGap && newEnd - current.start <= maxCount) {
        current.end = newEnd;
        current.spans.push(span);
        continue;
      }
    }
    flush();
    current = { fc: span.fc, start: span.address, end: spanEnd, spans: [span] };
  }
  flush();
  return blocks;
}

/** One request per point (with its exponent and the device time read separately): the naive plan. */
export function planOnePerValue(profile: Profile): ReadBlock[] {
  return spansOf(profile).map((s) => place(s.fc, s.address, s.width, [s]));
}

/** Registers a plan reads in total, for comparing plans (unused gap registers included). */
export function registersRead(blocks: readonly ReadBlock[]): number {
  return blocks.reduce((n, b) => n + b.count, 0);
}
