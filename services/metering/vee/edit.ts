import type { AuditLog } from '../../platform/audit/audit-log.ts';
import type { BackofficeDb, Clock } from '../../platform/db.ts';
import { assertCan } from '../../platform/auth/duties.ts';
import { authFail } from '../../platform/auth/errors.ts';
import type { Actor } from '../../platform/auth/roles.ts';
import type { CumulativeQuantity } from '../storage.ts';
import { veeFail } from './errors.ts';
import type { ValidatedInterval } from './types.ts';
import type { VeeStore } from './vee-store.ts';

/**
 * Editing: a supervisor corrects one 15-min interval with a reason code and a note. The edit is a
 * new version (source 'edited', method = the reason code, editedBy = the supervisor), written with
 * its audit entry (before, after, reason) in one transaction; every earlier version stays.
 *
 * An edit of a billed (pinned) interval is stored the same way but, like a late real read, stays a
 * pending correction until a later bill run pins it: the billed number does not change silently.
 */

export const EDIT_REASONS = {
  METER_FAULT: 'The meter was faulty; the value is the supervisor’s substitute.',
  MANUAL_READ: 'A manual reading (by two readers) gives the value.',
  CUSTOMER_AGREED: 'The value was agreed with the customer after an objection.',
  ESTIMATE_CORRECTED: 'VEE’s estimate was replaced by a better one.',
  CONFIRMED_ACTUAL: 'The measured value was checked on site and is right (clears a flag-only failure).',
  CLOCK_CORRECTED: 'The reading was stamped wrongly; the value is re-timed.',
  TAMPER_CONFIRMED: 'Tampering was confirmed on site; the value is the assessed consumption.',
} as const;
export type EditReason = keyof typeof EDIT_REASONS;

export function isEditReason(v: string): v is EditReason {
  return Object.hasOwn(EDIT_REASONS, v);
}

export interface EditInput {
  meter: string;
  quantity: CumulativeQuantity;
  /** Start of the 15-min interval (UTC ms). */
  start: number;
  value: number;
  reason: EditReason;
  /** What was done and why, in words: kept with the version and in the audit log. */
  note: string;
  /** The version the editor saw; refused if a newer one exists. */
  expectedVersion?: number;
}

export interface EditResult {
  interval: ValidatedInterval;
  /** False when the interval is billed: the edit waits as a pending correction. */
  current: boolean;
}

export interface EditDeps {
  db: BackofficeDb;
  store: VeeStore;
  audit: AuditLog;
  clock: Clock;
}

function summary(i: ValidatedInterval) {
  return {
    version: i.version,
    value: i.value,
    source: i.source,
    ...(i.method !== undefined ? { method: i.method } : {}),
    ...(i.editedBy !== undefined ? { editedBy: i.editedBy } : {}),
  };
}

export function editInterval(deps: EditDeps, actor: Actor, input: EditInput): EditResult {
  assertCan(actor, 'readings.edit', 'edit a validated interval');
  if (actor.kind !== 'user')
    authFail('PERSON_REQUIRED', `${actor.id} is an API token; only a person may edit readings`);
  if (!isEditReason(input.reason)) {
    veeFail(
      'VEE_INVALID_EDIT',
      `reason ${String(input.reason)} is not one of ${Object.keys(EDIT_REASONS).join(', ')}`,
    );
  }
  if (!input.note?.trim()) veeFail('VEE_INVALID_EDIT', 'an edit needs a note saying what was done');
  if (!Number.isFinite(input.value) || input.value < 0) {
    veeFail('VEE_INVALID_EDIT', `value ${input.value} is not a finite number ≥ 0`);
  }
  const key = { meter: input.meter, quantity: input.quantity, start: input.start };
  const subject = `vee-interval:${input.meter}/${input.quantity}/${new Date(input.start).toISOString()}`;
  return deps.db.transaction((): EditResult => {
    const latest = deps.store.latest(key);
    if (!latest) veeFail('VEE_INTERVAL_NOT_FOUND', `${subject} has not been validated yet`);
    if (input.expectedVersion !== undefined && input.expectedVersion !== latest.version) {
      veeFail(
        'VEE_VERSION_CONFLICT',
        `${subject} is at version ${latest.version}, not ${input.expectedVersion}; reload and edit again`,
      );
    }
    const before = deps.store.current(input.meter, input.quantity, input.start, input.start + 1)[0]!;
    const at = deps.clock();
    deps.store.append(
      input.meter,
      input.quantity,
      {
        start: latest.start,
        end: latest.end,
        value: input.value,
        source: 'edited',
        method: input.reason,
        note: input.note.trim(),
        // The flags that led to the edit stay visible on it.
        flags: latest.flags,
        editedBy: actor.id,
      },
      at,
    );
    const edited = deps.store.latest(key)!;
    const current = deps.store.current(input.meter, input.quantity, input.start, input.start + 1)[0]!;
    deps.audit.append({
      actor: actor.id,
      action: 'vee.edit',
      subject,
      before: summary(before),
      after: { ...summary(edited), current: current.version === edited.version },
      reason: `${input.reason}: ${input.note.trim()}`,
    });
    return {
      interval: current.version === edited.version ? current : edited,
      current: current.version === edited.version,
    };
  })();
}
