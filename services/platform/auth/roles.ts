/**
 * Roles and what each may do: the energy center's integrity rules as data. Checked on the server
 * for every request (services/platform/http), never trusted from a client.
 *
 * Duties that must not meet in one person (DOMAIN.md): a meter reader never records payments; an
 * administrator who manages users never approves operations (and has no role that could); and
 * nobody approves their own request (checked per request, see `assertNotSelfApproval`).
 */
export const ROLES = [
  'operator',
  'inspector',
  'reader',
  'clerk',
  'supervisor',
  'billing',
  'admin',
  /** Finance department: enters the cash and bank records the business office is reconciled against. */
  'finance',
  /** The department head's assistant: the second signature of a half-monthly reconciliation. */
  'assistant',
  /** The heating service desk: heating start/stop applications and their work orders. */
  'heating-desk',
  /** Heating maintenance staff: open and lock valves on work orders, sign stops. */
  'maintenance',
  /** The inspection department's dedicated staff for complaints and tips: the only readers of a tipster's identity. */
  'complaints',
] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = {
  /** Live readings, substations, gateway health. */
  'readings.view': ['operator', 'inspector', 'supervisor', 'billing', 'clerk'],
  /** Manual meter readings (always two readers). */
  'readings.enter-manual': ['reader'],
  /** Draw the two readers of a manual reading round (at random; the draw is recorded). */
  'readings.assign': ['supervisor'],
  /** Correct a reading: a new version with a reason code. */
  'readings.edit': ['supervisor'],
  'alerts.view': ['inspector', 'supervisor'],
  'alerts.handle': ['inspector'],
  'accounts.view': ['clerk', 'supervisor', 'billing', 'operator'],
  'accounts.open': ['clerk'],
  /** Confirm an account's tariff type; no sale before it. */
  'accounts.verify-tariff': ['supervisor'],
  'payments.record': ['clerk'],
  'refunds.request': ['clerk'],
  'refunds.approve': ['supervisor'],
  'meter-reset.request': ['clerk'],
  'meter-reset.approve': ['supervisor'],
  /** Book a correction to a prepaid ledger, with a reason. */
  'ledger.correct': ['supervisor'],
  /** Debit metered consumption from prepaid accounts: the metering job's token, not a person. */
  'consumption.debit': ['billing'],
  'free-quota.credit': ['operator', 'clerk'],
  'free-quota.confirm': ['supervisor'],
  'relay.request': ['operator', 'clerk', 'supervisor', 'inspector'],
  /** DOMAIN.md: a supervisor approves every customer cut-off and restore. */
  'relay.approve': ['supervisor'],
  /** Power-room line cut/restore records: an operator records, a second operator or a supervisor confirms. */
  'lines.record': ['operator'],
  'lines.confirm': ['operator', 'supervisor'],
  /** Standing approvals for policy-raised cut-offs and restores. */
  'relay.policy-approval': ['supervisor'],
  'handover.report': ['clerk', 'operator', 'supervisor'],
  'billing.export': ['billing', 'supervisor'],
  /** Propose a tariff change (a new table or one new tariff version); nothing takes effect before approval. */
  'tariffs.edit': ['billing'],
  /** The second person of a tariff change: approve or reject what billing proposed. */
  'tariffs.approve': ['supervisor'],
  'invoices.check': ['billing', 'supervisor'],
  'audit.view': ['supervisor', 'inspector', 'admin', 'billing'],
  'audit.verify': ['supervisor', 'inspector', 'admin', 'billing', 'operator', 'clerk'],
  'users.manage': ['admin'],
  /** Post-paid collection (services/money/collection): fee tables, notices, payroll lists. */
  'collection.view': ['clerk', 'billing', 'supervisor', 'finance', 'assistant'],
  /** Publish a bill run's fee table for objections, confirm it, issue notices and payroll lists. */
  'collection.publish': ['billing'],
  /** Record a customer's objection to the fee table, a reminder, or ask for a penalty waiver. */
  'collection.objection': ['clerk', 'billing'],
  'collection.remind': ['clerk', 'billing'],
  'penalty-waiver.request': ['clerk', 'billing'],
  /** Decide an objection (it may change what a customer owes): a supervisor, not whoever recorded it. */
  'collection.resolve-objection': ['supervisor'],
  /** The second person of a penalty waiver. */
  'penalty-waiver.approve': ['supervisor'],
  /** The second person of a post-paid payment reversal (a payment recorded by mistake). */
  'payment-reversal.approve': ['supervisor'],
  /** Half-monthly reconciliation (services/money/reconciliation). */
  'reconciliation.view': ['clerk', 'finance', 'assistant', 'supervisor', 'inspector', 'billing'],
  /** Cash deposited and bank records for a half month, as finance has them. */
  'reconciliation.finance-records': ['finance'],
  /** The inspection department's own list of post-paid payments for a half month. */
  'reconciliation.inspection-list': ['inspector'],
  /** Prepare a report (a new version) and explain its differences; the first signature. */
  'reconciliation.prepare': ['clerk'],
  'reconciliation.sign-clerk': ['clerk'],
  'reconciliation.sign-assistant': ['assistant'],
  'reconciliation.sign-supervisor': ['supervisor'],
  /** Planned water, power and heat outages (services/operations/outages). */
  'outages.view': ['operator', 'supervisor', 'inspector', 'clerk', 'billing'],
  /** Plan an outage on a node of the topology, or withdraw one's plan. */
  'outages.plan': ['operator'],
  /** The second person: a supervisor of that utility approves, rejects or cancels an outage. */
  'outages.approve': ['supervisor'],
  /** Annual water (and electricity) plans per unit (services/metering/plans). */
  'plans.view': ['operator', 'supervisor', 'billing', 'inspector'],
  'plans.propose': ['operator'],
  /** The second person of a unit's annual plan. */
  'plans.approve': ['supervisor'],
  /** Capacity-increase applications (services/operations/capacity): recorded at the window, reviewed, approved by two. */
  'capacity.view': ['operator', 'supervisor', 'clerk', 'billing'],
  'capacity.apply': ['clerk', 'operator'],
  'capacity.review': ['operator'],
  'capacity.approve': ['supervisor'],
  /** Heating start/stop (services/operations/heating): applications, work orders, signed stops, spot checks. */
  'heating.view': ['heating-desk', 'maintenance', 'inspector', 'supervisor', 'billing'],
  /** Record a start or stop application, dispatch its work order, cancel it. */
  'heating.apply': ['heating-desk'],
  /**
   * The second person of an electric heating registration (it silences detection's electric-heating
   * alerts and sets the tariff): a supervisor, as for every act the rulebook gives a second person.
   */
  'heating.electric-approve': ['supervisor'],
  /** Record a valve opened or locked on one's work order, the household's signature, sign a stop. */
  'heating.work': ['maintenance'],
  /** Draw the inspectors' spot-check list of stopped units and record what was found. */
  'heating.spot-check': ['inspector'],
  /**
   * Certify a unit's heated area (with its certificate) or record a heating contract: a dated new
   * record. The heating desk's alone: billing prices the season from these records, and whoever
   * prices must not also set what is priced (INCOMPATIBLE_ROLES).
   */
  'heating.units': ['heating-desk'],
  /** Define a heating season's price and compute its fees (a bill run collection publishes). */
  'heating.fees': ['billing'],
  /** Complaints and tips (services/inspection/complaints): a tipster's identity is shown only to `complaints.identity`. */
  'complaints.view': ['complaints', 'supervisor'],
  /** An inspector reads (only) the cases linked to them, the tipster always "anonymous" when kept so. */
  'complaints.linked': ['inspector'],
  'complaints.record': ['complaints'],
  'complaints.identity': ['complaints'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

/** Pairs of roles one user may not hold together, with the reason shown when refused. */
export const INCOMPATIBLE_ROLES: readonly [Role, Role, string][] = [
  ['reader', 'clerk', 'a meter reader must not also record payments'],
  ['admin', 'supervisor', 'an administrator who manages users must not approve operations'],
  ['admin', 'operator', 'an administrator who manages users must not approve operations'],
  ['admin', 'clerk', 'an administrator who manages users must not move money'],
  [
    'admin',
    'finance',
    'an administrator who manages users must not keep the records money is checked against',
  ],
  ['admin', 'assistant', 'an administrator who manages users must not approve operations'],
  [
    'clerk',
    'finance',
    'whoever takes the money must not also enter the cash and bank records it is reconciled against',
  ],
  ['clerk', 'assistant', 'a clerk must not countersign the reconciliation of their own takings'],
  ['reader', 'finance', 'a meter reader must not also keep the payment records'],
  [
    'heating-desk',
    'maintenance',
    'whoever accepts a heating application must not also open or lock its valve and sign for it',
  ],
  ['maintenance', 'inspector', 'whoever locks heating valves must not also spot-check them'],
  [
    'heating-desk',
    'billing',
    "whoever certifies a unit's heated area or records its heating contract must not also price the season's fees",
  ],
  [
    'admin',
    'complaints',
    "an administrator who manages users must not read tipsters' identities (or grant that to themselves)",
  ],
];

/** Who is acting: a person logged in, or a machine with a scoped API token. */
export interface Actor {
  /** The user name, or `token:<name>` for an API token. */
  id: string;
  kind: 'user' | 'token';
  roles: readonly Role[];
  /** For tokens: the only permissions it has, whatever its roles say. */
  scopes?: readonly Permission[];
}

export function can(actor: Actor, permission: Permission): boolean {
  if (actor.scopes && !actor.scopes.includes(permission)) return false;
  const allowed: readonly Role[] = PERMISSIONS[permission];
  return actor.roles.some((r) => allowed.includes(r));
}

/** The problem with holding these roles together, or null. */
export function incompatibleRoles(roles: readonly Role[]): string | null {
  for (const [a, b, why] of INCOMPATIBLE_ROLES)
    if (roles.includes(a) && roles.includes(b)) return `${a} + ${b}: ${why}`;
  return null;
}

/**
 * Permissions that approve or sign for someone else's request: the second person of a two-person
 * rule. No administrator role has them (INCOMPATIBLE_ROLES and PERMISSIONS together), and an API
 * token may never carry them.
 */
export const APPROVAL_PERMISSIONS = [
  'refunds.approve',
  'free-quota.confirm',
  'relay.approve',
  'relay.policy-approval',
  'accounts.verify-tariff',
  'meter-reset.approve',
  'tariffs.approve',
  'penalty-waiver.approve',
  'payment-reversal.approve',
  'collection.resolve-objection',
  'reconciliation.sign-assistant',
  'reconciliation.sign-supervisor',
  'outages.approve',
  'plans.approve',
  'capacity.approve',
  'heating.electric-approve',
] as const satisfies readonly Permission[];

/**
 * Permissions only a person may use, never a machine's API token: approvals, editing readings and
 * managing users (a token that could create users could grant itself anything).
 */
export const PERSON_ONLY_PERMISSIONS: readonly Permission[] = [
  ...APPROVAL_PERMISSIONS,
  'readings.edit',
  'ledger.correct',
  'users.manage',
  'heating.work',
  'complaints.identity',
];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}
