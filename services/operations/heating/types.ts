/** What the heating desk's callers and routes see (DOMAIN.md "Heating start/stop"). */

export type HeatingKind = 'start' | 'stop';

export type ApplicationState =
  /** A start for a household not on the payroll whose heating fee is not paid yet. */
  | 'awaiting-payment'
  | 'accepted'
  /** Its work order went to maintenance. */
  | 'dispatched'
  /** Start: the valve is open, the household has not signed yet. Stop: locked, one signature. */
  | 'valve-done'
  /** Start finished: the valve open and the household signed. */
  | 'started'
  /** Stop finished: locked, signed by two maintenance staff, reported to inspection. */
  | 'stopped'
  | 'cancelled';

/** Where the heating fee of the unit stands, as collection has it. */
export interface FeeStatus {
  state: 'payroll' | 'paid' | 'unpaid' | 'not-billed';
  /** The payment notice the fee is on, when there is one. */
  notice: string | null;
  outstandingFen: number | null;
  /** In words, for the desk: which season, which notice. */
  detail: string;
}

/**
 * How the desk learns whether a start may go ahead: the money group's collection answers it,
 * given to the desk by the composition root (operations may not import money).
 */
export interface HeatingFeeGate {
  status(unit: string, at: number): FeeStatus & { account: string | null };
}

export interface HeatingApplication {
  id: number;
  /** `HA-<id>`: what the household is given. */
  number: string;
  kind: HeatingKind;
  /** The unit's heat meter in the campus file. */
  unit: string;
  applicant: {
    name: string;
    /** The applicant's user name when they are staff of the center: they may not sign their own stop. */
    staffId: string | null;
    account: string | null;
  };
  reason: string;
  state: ApplicationState;
  recordedBy: string;
  recordedAt: number;
  fee: (FeeStatus & { checkedAt: number }) | null;
  order: {
    number: string;
    dispatchedBy: string;
    dispatchedAt: number;
    /** The maintenance staff it went to: only they record the valve and sign. */
    crew: string[];
  } | null;
  valve: {
    action: 'opened' | 'locked';
    /** When the valve was opened or locked on site (not later than it was recorded). */
    at: number;
    by: string;
    recordedAt: number;
    /** The lock's seal number (stop). */
    seal: string | null;
    note: string | null;
  } | null;
  /** Maintenance signatures on a stop, the one who locked it first. */
  signatures: { by: string; at: number }[];
  /** The household's signature on a start, as the maintenance person saw it given. */
  household: { name: string; at: number; recordedBy: string } | null;
  /** When a signed stop was reported to the inspection department. */
  reportedAt: number | null;
  cancelled: { by: string; at: number; reason: string } | null;
}

/** A unit registered stopped: what detection checks heat use against (shape of detection's type). */
export interface StoppedRegistration {
  meter: string;
  state: 'stopped';
  from: number;
  to?: number;
  workOrder: string;
  confirmedBy: string[];
}

/** Stop signatures needed: DOMAIN.md "done and signed by at least two maintenance staff". */
export const STOP_SIGNATURES = 2;

/**
 * A unit registered as heated electrically (it pays the electric-heating tariff): what detection
 * leaves out of the electric-heating check from `from` on (shape of detection's type: the
 * registration's meter is the unit's electricity meter, heating on).
 */
export interface ElectricRegistration {
  meter: string;
  electricityMeter: string;
  state: 'on';
  from: number;
  to?: number;
  /** `EH-<id>`: the desk's record. */
  workOrder: string;
  confirmedBy: string[];
}

/** The heating desk's record of a unit heated by electricity: who recorded it, from when, until when. */
export interface ElectricHeatingRecord {
  id: number;
  /** `EH-<id>`. */
  number: string;
  /** The unit's electricity meter in the campus file. */
  meter: string;
  applicant: { name: string; staffId: string | null };
  /** Why, in the clerk's words (the tariff or contract it is charged under). */
  reason: string;
  /** From when the unit is registered heated electrically: never before it was recorded. */
  from: number;
  recordedBy: string;
  recordedAt: number;
  /**
   * A desk clerk's proposal until a second, independent person decides it (electric.ts): only an
   * approved record counts for detection. Refused and withdrawn ones are kept, never deleted.
   */
  state: ElectricHeatingState;
  /** The approval, refusal or withdrawal: who, when, why. */
  decision: { by: string; at: number; reason: string | null } | null;
  /** Approved: in force from here on, `from` or the approval if later (never before a second person agreed). */
  inForceFrom: number | null;
  ended: { at: number; by: string; reason: string } | null;
}

export type ElectricHeatingState = 'proposed' | 'approved' | 'refused' | 'withdrawn';
