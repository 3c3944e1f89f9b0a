import { CollectionSettingsSchema } from '../../config/schemas/collection.ts';
import type { Actor } from '../../services/platform/auth/roles.ts';
import { Collection } from '../../services/money/collection/collection.ts';
import { fixtureRun } from '../billing/fixture.ts';
import { local, TZ } from '../billing/support.ts';
import { expectRefusedUnchanged } from '../helpers/refused.ts';

export { local, TZ };

const user = (id: string, ...roles: Actor['roles']): Actor => ({ id, kind: 'user', roles });
export const billing = user('fin.zhang', 'billing');
export const clerk = user('clerk.wang', 'clerk');
export const clerk2 = user('clerk.liu', 'clerk');
export const supervisor = user('sup.li', 'supervisor');
/** Holds clerk and supervisor: the two-person rules must still stop them approving their own request. */
export const lead = user('lead.zhou', 'clerk', 'supervisor');
export const reader = user('reader.chen', 'reader');
export const token: Actor = { id: 'token:ops', kind: 'token', roles: ['supervisor'] };

/** A real bill run of the billing fixture (November 2026) and collection over the same database. */
export async function setup(settings: unknown = {}) {
  const f = await fixtureRun();
  const collection = new Collection({
    db: f.db,
    audit: f.audit,
    clock: f.clock,
    timezone: TZ,
    settings: CollectionSettingsSchema.parse(settings),
    runs: f.runs,
  });
  return { ...f, collection };
}

/** Publishes the fixture's run, lets the objection period pass and confirms it. */
export async function confirmed(settings: unknown = {}) {
  const s = await setup(settings);
  const table = s.collection.publish(billing, { run: s.run.id });
  s.time.now = table.objectionsUntil + 10 * 3_600_000;
  s.collection.confirm(billing, table.id);
  return { ...s, table: s.collection.feeTable(table.id) };
}

/** What a refused call must leave as it was: every collection table and the audit head. */
export function snapshot(db: Awaited<ReturnType<typeof setup>>['db']) {
  const t = (name: string) => db.prepare(`SELECT * FROM ${name} ORDER BY rowid`).all();
  return {
    audit: db.prepare('SELECT MAX(seq) AS seq FROM audit_log').get(),
    payments: t('collection_payments'),
    credits: t('collection_credits'),
    notices: t('payment_notices'),
    objections: t('fee_objections'),
    decisions: t('fee_objection_decisions'),
    waivers: t('penalty_waivers'),
    waiverDecisions: t('penalty_waiver_decisions'),
    reminders: t('collection_reminders'),
  };
}

export function expectRefused(db: Awaited<ReturnType<typeof setup>>['db'], code: string, fn: () => unknown) {
  return expectRefusedUnchanged(() => snapshot(db), code, fn);
}
