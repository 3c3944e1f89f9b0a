import type { Quantity } from '../../../config/schemas/quantities.ts';
import type { MeterKind } from '../../metering/storage.ts';

/**
 * The detection engine's data model: what every detector reads and what it reports. The live
 * service fills `DetectionInput` from the store; the offline CLI fills it from CSV files; tests
 * fill it from rendered scenarios. One engine for all three.
 */

export interface Sample {
  /** UTC ms */
  ts: number;
  value: number;
}

export interface MeterData {
  meter: string;
  kind: MeterKind;
  /** The meter upstream in the metering tree (campus file `parent`). */
  parent?: string;
  account?: string;
  /**
   * What the meter supplies, where known (e.g. `dorm-room`, `staff-household`): detectors that only
   * apply to some customers (illegal loads in dorm rooms) select by it or by the account.
   */
  role?: string;
  /** Cumulative register as the meter gave it: energy_import_kwh, volume_m3 or heat_kwh. */
  register: Sample[];
  /** Other quantities where available (power_kw, pf, flow_m3h, supply_c, return_c, relay_closed…). */
  series: Partial<Record<Quantity, Sample[]>>;
  /** Times the meter failed to answer (error readings): a gap, not a zero. */
  errors?: number[];
  /**
   * Electricity meters: the heat meters (campus file `electricityMeter`) of the unit it supplies. A
   * heated unit's electricity is judged for electric heating even without an account.
   */
  heatMeters?: string[];
}

/**
 * A heating start or stop, as the heating desk recorded it (DOMAIN.md: two staff confirm a stop);
 * or a unit registered as heated electrically: `meter` and `electricityMeter` both its electricity
 * meter, state `on`, from the day the desk recorded it.
 */
export interface HeatingRegistration {
  /** Heat meter id of the unit; its electricity meter for a registered electric heating. */
  meter: string;
  /**
   * Electricity meter of the same unit, where known (for the degree-day check): given, or filled
   * in from the heat meter's `electricityMeter` in the campus file.
   */
  electricityMeter?: string;
  state: 'on' | 'stopped';
  from: number;
  to?: number;
  workOrder?: string;
  confirmedBy?: string[];
}

export interface WeatherSample {
  ts: number;
  outdoorC: number;
}

export interface DetectionInput {
  /** IANA zone for days, nights and weekdays. */
  timezone: string;
  from: number;
  to: number;
  meters: ReadonlyMap<string, MeterData>;
  heating?: readonly HeatingRegistration[];
  weather?: readonly WeatherSample[];
}

export const ALERT_TYPES = [
  'energy-balance',
  'meter-drop',
  /** A meter's error growing slowly (a current transformer drifting): for the metering team. */
  'meter-drift',
  'meter-stopped',
  'meter-backwards',
  'meter-tamper',
  'illegal-load',
  'unauthorized-heating',
  /** Raised by an event (two manual readings that disagree), not by a detector's condition. */
  'manual-reading-mismatch',
] as const;
/** Alert types raised by events: they stay open until an inspector decides, whatever detection runs say. */
export const EVENT_ALERT_TYPES: ReadonlySet<AlertType> = new Set(['manual-reading-mismatch']);
export type AlertType = (typeof ALERT_TYPES)[number];
export type Severity = 'low' | 'medium' | 'high';

export interface Suspect {
  meter: string;
  /** Higher = explains more of the loss; comparable within one node. */
  score: number;
  reasons: string[];
}

/**
 * What a detector saw: the figures and the series window that made it decide. An inspector checks
 * an alert by `model` (what the expectation comes from), `expected` against `seen` (energy over
 * [from, to), in `unit`), the alert's `since`, and the series (daily seen and expected) as a chart.
 */
export interface Evidence {
  from: number;
  to: number;
  model?: string;
  expected?: number;
  seen?: number;
  unit?: string;
  figures: Record<string, number | string>;
  series?: { meter: string; quantity: string; points: [ts: number, value: number][] }[];
}

/**
 * One condition a detector found. `key` identifies the condition (e.g.
 * `energy-balance:E-E-F2`): while it stays active there is one alert, not one per run.
 */
export interface Finding {
  type: AlertType;
  key: string;
  severity: Severity;
  meter?: string;
  /** A metering-tree node (its upstream meter id). */
  node?: string;
  /** Higher = more suspicious, comparable within a run. */
  score: number;
  /** When the condition started, as far as the data shows. */
  since: number;
  reason: string;
  evidence: Evidence;
  suspects?: Suspect[];
  /** Estimated energy (kWh, or m³ for water) not explained, for balance findings. */
  unexplained?: number;
}

/** A score for every meter and node, alert or not (the offline report and evaluation use them). */
export interface Score {
  id: string;
  kind: 'meter' | 'node';
  score: number;
  alert: boolean;
  reason: string;
  /** Nodes: the downstream meters most likely behind the node's current loss, best first. */
  suspects?: Suspect[];
}

export interface DetectionResult {
  findings: Finding[];
  scores: Score[];
}

export interface Detector {
  readonly name: string;
  run(input: DetectionInput): { findings: Finding[]; scores?: Score[] };
}

/** A detector that scores every meter or node it looks at (the offline report needs them). */
export interface ScoringDetector extends Detector {
  run(input: DetectionInput): { findings: Finding[]; scores: Score[] };
}
