/**
 * Meter clocks on DL/T 645 and CJ/T 188 run in civil time (Beijing time on a Chinese campus) and
 * carry no zone; the gateway converts with the zone configured for the bus.
 */
export interface CivilTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

export function civilTimeOf(utcMs: number, zone: string): CivilTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** UTC ms of a civil time in `zone`, or undefined if the fields do not name a real date. */
export function utcOf(t: CivilTime, zone: string): number | undefined {
  const naive = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  const check = new Date(naive);
  if (
    !Number.isFinite(naive) ||
    check.getUTCMonth() !== t.month - 1 ||
    check.getUTCDate() !== t.day ||
    t.hour > 23 ||
    t.minute > 59 ||
    t.second > 59
  )
    return undefined;
  // The zone's offset at that moment, found by formatting the naive instant (twice, for DST edges).
  let utc = naive;
  for (let i = 0; i < 2; i++) {
    const c = civilTimeOf(utc, zone);
    const shown = Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second);
    utc += naive - shown;
  }
  return utc;
}
