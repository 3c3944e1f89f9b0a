import { z } from 'zod';
import type { MeterKind } from '../storage.ts';

/**
 * VEE thresholds. Every default lives in ThresholdsSchema and nowhere else; the README's rule
 * table is written from it. A meter's thresholds are the defaults, overridden by its kind's
 * overrides, overridden by its meter class's (a class is chosen by an explicit meter list first,
 * then by the longest matching id prefix).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const nonNeg = () => z.number().finite().nonnegative();
const positive = () => z.number().finite().positive();

/** The fields, without defaults, so that overrides can be partial (zod applies defaults in partials). */
const fields = {
  futureToleranceMs: nonNeg().describe(
    'A reading stamped more than this after now is excluded (timestamp-future)',
  ),
  deviceClockMaxSkewMs: nonNeg().describe('|deviceTs − ts| above this is a device clock off (device-clock)'),
  duplicateValueTolerance: nonNeg().describe(
    'Two readings with one ts whose registers differ by more than this conflict (timestamp-duplicate, fail)',
  ),
  resetDropFraction: z
    .number()
    .min(0)
    .max(1)
    .describe(
      'A decrease by more than this share of the register is a reset or unrecorded meter exchange (register-decrease); a smaller one is running backwards',
    ),
  maxCurrentA: positive()
    .optional()
    .describe('Electricity: the meter’s maximum current Imax (spike physical limit)'),
  voltageV: positive().describe('Electricity: nominal phase voltage (line to neutral)'),
  phases: z.union([z.literal(1), z.literal(3)]).describe('Electricity: number of phases'),
  pipeDiameterMm: positive().optional().describe('Water: nominal pipe diameter DN (spike physical limit)'),
  maxVelocityMs: positive().describe('Water: the highest plausible flow velocity in the pipe, m/s'),
  maxHeatPowerKw: positive()
    .optional()
    .describe('Heat: the connection’s maximum thermal power (spike physical limit)'),
  spikeFactor: positive().describe('An interval above this multiple of its own 95th percentile is a spike'),
  spikeMinValue: nonNeg().describe('Intervals at or below this are never history spikes (unit per 15 min)'),
  historyDays: z
    .number()
    .int()
    .min(1)
    .max(366)
    .describe('Look-back for the 95th percentile and activity, days'),
  minHistoryIntervals: z
    .number()
    .int()
    .min(1)
    .describe('History intervals needed before the history-based spike and zero checks apply'),
  expectedReadingIntervalMs: positive().describe(
    'How often the meter is read; a day expects 1 day / this readings',
  ),
  minCompleteness: z
    .number()
    .min(0)
    .max(1)
    .describe('Share of expected readings a day needs (gap, daily, info)'),
  zeroRunMinMs: positive().describe(
    'Zero consumption this long on a normally active meter fails (zero-consumption)',
  ),
  activeShare: z
    .number()
    .min(0)
    .max(1)
    .describe('A meter is normally active if at least this share of its history intervals is non-zero'),
  flatRunMin: z
    .number()
    .int()
    .min(2)
    .describe(
      'This many identical non-zero 15-min values in a row fail (flat-line); interpolation across a 1 h reading gap makes at most 4',
    ),
  bidirectional: z.boolean().describe('The meter may export (solar, regeneration): no reverse-energy check'),
  reverseMinDelta: nonNeg().describe(
    'energy_export_kwh rising more than this in an interval is reverse energy',
  ),
  sumRelTolerance: nonNeg().describe('Σ 15-min values vs the day’s register difference: relative tolerance'),
  sumAbsTolerance: nonNeg().describe('Σ 15-min values vs the day’s register difference: absolute tolerance'),
};

export const ThresholdsSchema = z
  .object({
    futureToleranceMs: fields.futureToleranceMs.default(5 * MINUTE),
    deviceClockMaxSkewMs: fields.deviceClockMaxSkewMs.default(MINUTE),
    duplicateValueTolerance: fields.duplicateValueTolerance.default(0.001),
    resetDropFraction: fields.resetDropFraction.default(0.5),
    maxCurrentA: fields.maxCurrentA,
    voltageV: fields.voltageV.default(230),
    phases: fields.phases.default(1),
    pipeDiameterMm: fields.pipeDiameterMm,
    maxVelocityMs: fields.maxVelocityMs.default(3),
    maxHeatPowerKw: fields.maxHeatPowerKw,
    spikeFactor: fields.spikeFactor.default(5),
    spikeMinValue: fields.spikeMinValue.default(0.1),
    historyDays: fields.historyDays.default(28),
    minHistoryIntervals: fields.minHistoryIntervals.default(7 * 96),
    expectedReadingIntervalMs: fields.expectedReadingIntervalMs.default(15 * MINUTE),
    minCompleteness: fields.minCompleteness.default(0.9),
    zeroRunMinMs: fields.zeroRunMinMs.default(2 * HOUR),
    activeShare: fields.activeShare.default(0.9),
    flatRunMin: fields.flatRunMin.default(6),
    bidirectional: fields.bidirectional.default(false),
    reverseMinDelta: fields.reverseMinDelta.default(0.01),
    sumRelTolerance: fields.sumRelTolerance.default(0.01),
    sumAbsTolerance: fields.sumAbsTolerance.default(0.01),
  })
  .strict();
export type Thresholds = z.infer<typeof ThresholdsSchema>;

export const ThresholdOverridesSchema = z.object(fields).partial().strict();
export type ThresholdOverrides = z.infer<typeof ThresholdOverridesSchema>;

export const EstimationSchema = z
  .object({
    shortGapMaxMs: positive()
      .default(2 * HOUR)
      .describe('Between two trusted readings at most this far apart, the register is interpolated linearly'),
    likeDayWeeks: z
      .number()
      .int()
      .min(1)
      .max(12)
      .default(4)
      .describe('Like-day profile: the same weekday of this many past weeks'),
    searchMarginMs: positive()
      .default(3 * 86_400_000)
      .describe('How far around the asked window gaps are followed to their trusted readings'),
  })
  .strict();
export type Estimation = z.infer<typeof EstimationSchema>;

export const MeterClassSchema = z
  .object({
    name: z.string().min(1).describe('e.g. dorm-room, household, building, feeder'),
    prefixes: z.array(z.string().min(1)).default([]).describe('Meter ids starting with one of these'),
    meters: z.array(z.string().min(1)).default([]).describe('Explicit meter ids (win over prefixes)'),
    thresholds: ThresholdOverridesSchema.default({}),
  })
  .strict();
export type MeterClass = z.infer<typeof MeterClassSchema>;

export const VeeConfigSchema = z
  .object({
    kinds: z
      .object({
        electricity: ThresholdOverridesSchema.default({}),
        water: ThresholdOverridesSchema.default({}),
        heat: ThresholdOverridesSchema.default({}),
      })
      .strict()
      .default({ electricity: {}, water: {}, heat: {} }),
    classes: z.array(MeterClassSchema).default([]),
    estimation: EstimationSchema.default({
      shortGapMaxMs: 2 * HOUR,
      likeDayWeeks: 4,
      searchMarginMs: 3 * 86_400_000,
    }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.classes.forEach((k, i) => {
      if (names.has(k.name))
        ctx.addIssue({ code: 'custom', path: ['classes', i, 'name'], message: `class ${k.name} twice` });
      names.add(k.name);
    });
  });
export type VeeConfig = z.infer<typeof VeeConfigSchema>;

/** Parses a VEE config (from the campus file or a test), applying every default. */
export function parseVeeConfig(input: unknown): VeeConfig {
  return VeeConfigSchema.parse(input ?? {});
}

/** The class a meter belongs to: an explicit list first, then the longest matching prefix. */
export function classOf(config: VeeConfig, meter: string): MeterClass | undefined {
  const explicit = config.classes.find((c) => c.meters.includes(meter));
  if (explicit) return explicit;
  let best: { cls: MeterClass; len: number } | undefined;
  for (const cls of config.classes) {
    for (const p of cls.prefixes) {
      if (meter.startsWith(p) && (!best || p.length > best.len)) best = { cls, len: p.length };
    }
  }
  return best?.cls;
}

/** A meter's thresholds: defaults ← its kind's overrides ← its class's overrides. */
export function thresholdsFor(config: VeeConfig, meter: string, kind: MeterKind): Thresholds {
  return ThresholdsSchema.parse({ ...config.kinds[kind], ...classOf(config, meter)?.thresholds });
}
