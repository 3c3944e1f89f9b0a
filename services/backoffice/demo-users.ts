import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Role } from '../platform/auth/roles.ts';
import type { Users } from '../platform/auth/users.ts';

/** The demo's staff, one or two per role (two where the rules need a second person). Invented names. */
export const DEMO_STAFF: readonly { username: string; displayName: string; roles: Role[] }[] = [
  { username: 'demo.operator', displayName: 'Zhang Wei (operator)', roles: ['operator'] },
  { username: 'demo.operator2', displayName: 'Li Na (operator)', roles: ['operator'] },
  { username: 'demo.inspector', displayName: 'Wang Fang (inspector)', roles: ['inspector'] },
  // The inspection department's dedicated staff for complaints and tips.
  { username: 'demo.complaints', displayName: 'Ma Jun (complaints)', roles: ['complaints'] },
  { username: 'demo.reader', displayName: 'Liu Yang (reader)', roles: ['reader'] },
  { username: 'demo.reader2', displayName: 'Chen Jing (reader)', roles: ['reader'] },
  { username: 'demo.clerk', displayName: 'Yang Min (clerk)', roles: ['clerk'] },
  { username: 'demo.supervisor', displayName: 'Zhao Lei (supervisor)', roles: ['supervisor'] },
  { username: 'demo.supervisor2', displayName: 'Huang Li (supervisor)', roles: ['supervisor'] },
  { username: 'demo.billing', displayName: 'Zhou Jie (billing)', roles: ['billing'] },
  // The half-monthly reconciliation: finance keeps the records, the assistant countersigns.
  { username: 'demo.finance', displayName: 'Wu Hong (finance)', roles: ['finance'] },
  { username: 'demo.assistant', displayName: 'Xu Lan (assistant)', roles: ['assistant'] },
  // User administration takes two administrators (one proposes, the other approves).
  { username: 'demo.admin2', displayName: 'Sun Qiang (administrator)', roles: ['admin'] },
  // The heating desk and two maintenance staff: a stop is signed by two of them.
  { username: 'demo.heating', displayName: 'Gao Yan (heating desk)', roles: ['heating-desk'] },
  { username: 'demo.fitter', displayName: 'Ma Lin (maintenance)', roles: ['maintenance'] },
  { username: 'demo.fitter2', displayName: 'He Jun (maintenance)', roles: ['maintenance'] },
];

export interface DemoCredential {
  username: string;
  password: string;
  roles: string[];
}

/**
 * Creates the demo's users on first start, with random passwords kept in an owner-only file in
 * the demo's data folder (never in the repository), and returns them so the demo can print them.
 * On later starts the file is read back.
 */
export async function ensureDemoUsers(users: Users, credentialsFile: string): Promise<DemoCredential[]> {
  if (existsSync(credentialsFile))
    return JSON.parse(readFileSync(credentialsFile, 'utf8')) as DemoCredential[];
  const password = () => randomBytes(9).toString('base64url');
  const admin: DemoCredential = { username: 'demo.admin', password: password(), roles: ['admin'] };
  const created = [admin];
  await users.bootstrapAdmin(admin.username, admin.password, 'Demo administrator');
  for (const s of DEMO_STAFF) {
    const c = { username: s.username, password: password(), roles: s.roles };
    // Set up by the system, not by the demo administrator: no person stands behind these
    // accounts, so any two of them can be the two people of a two-person act.
    await users.provisionUser(
      { username: s.username, displayName: s.displayName, roles: s.roles, password: c.password },
      'system:demo',
    );
    created.push(c);
  }
  writeFileSync(credentialsFile, JSON.stringify(created, null, 2), { mode: 0o600 });
  return created;
}
