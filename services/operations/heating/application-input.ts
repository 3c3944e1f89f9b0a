import type { CampusTree } from '../../metering/live/types.ts';
import { heatingError } from './errors.ts';

/**
 * The checks the heating desk makes on what a clerk writes down, for a household's start or stop
 * (desk.ts) and for a unit's electric heating (electric.ts): the unit is a campus meter of the
 * right kind, someone applies, and a reason a person must give is there. One place, so that both
 * refuse the same missing input with the same code and words. The HTTP routes check the shapes
 * first; these run again for every other caller (the demo seed, tests, a future import).
 */

/** Two names for one person, whatever their case or the spaces around them. */
export const same = (a: string | null | undefined, b: string): boolean =>
  !!a && a.trim().toLowerCase() === b.trim().toLowerCase();

/** `text` trimmed; refused as INVALID_APPLICATION ("<what> is missing") when blank or not text. */
export function required(text: unknown, what: string): string {
  const t = typeof text === 'string' ? text.trim() : '';
  if (!t) heatingError('INVALID_APPLICATION', `${what} is missing`);
  return t;
}

const METER_OF_KIND = { heat: 'a heat meter', electricity: 'an electricity meter' } as const;

/** Refuses a unit that is not a meter of `kind` in the campus tree. */
export function assertMeterOfKind(tree: CampusTree, meter: string, kind: keyof typeof METER_OF_KIND): void {
  const node = tree.nodes[meter];
  if (!node || node.kind !== kind)
    heatingError('INVALID_APPLICATION', `${meter} is not ${METER_OF_KIND[kind]} of the campus`);
}

/** What the desk writes down for every application: who applies, and why. */
export interface ApplicantInput {
  applicant: string;
  /** For staff of the center: their user name (they may not handle their own application). */
  applicantStaffId?: string | undefined;
  reason: string;
}

/** Who applies: a name (required) and, for staff on the payroll, their staff id. */
export function applicantOf(input: Omit<ApplicantInput, 'reason'>): {
  name: string;
  staffId: string | null;
} {
  const name = required(input.applicant, 'the applicant');
  const staffId = typeof input.applicantStaffId === 'string' ? input.applicantStaffId.trim() || null : null;
  return { name, staffId };
}
