import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Actor } from '../../services/platform/auth/roles.ts';
import type { CustomerLogins } from '../../services/money/selfservice/logins.ts';
import { startPaymentSimulator, type PaymentSimulator } from './server.ts';

/**
 * The demo's payment side: the simulated campus-card provider on loopback with a merchant key
 * kept in the data folder (owner-only), as the campus file's one provider; and a customer sign-in
 * per demo room, its password kept beside the staff's (demo-customers.json, owner-only).
 */

export interface DemoPayments {
  sim: PaymentSimulator;
  /** The campus file's `payments.providers` entry (keyFile relative to the data folder). */
  provider: { id: string; method: 'card'; baseUrl: string; keyFile: string };
}

export async function startDemoPayments(dataDir: string): Promise<DemoPayments> {
  const keyFile = join(dataDir, 'demo-payment.key');
  if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
  const sim = await startPaymentSimulator({
    key: readFileSync(keyFile),
    statementDir: join(dataDir, 'statements'),
  });
  return {
    sim,
    provider: { id: 'campus-card', method: 'card', baseUrl: sim.url, keyFile: 'demo-payment.key' },
  };
}

export interface DemoCustomer {
  username: string;
  password: string;
  account: string;
}

/** One sign-in per account that exists, issued by the demo clerk and redeemed at once; made once. */
export async function ensureDemoCustomers(
  logins: CustomerLogins,
  file: string,
  accounts: readonly string[],
): Promise<DemoCustomer[]> {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoCustomer[];
  const clerk: Actor = { id: 'demo.clerk', kind: 'user', roles: ['clerk'] };
  const out: DemoCustomer[] = [];
  for (const account of accounts) {
    const username = `stu.${account.toLowerCase().replace(/^room-/, '')}`;
    let issued;
    try {
      issued = logins.issueCode(clerk, { account, username, language: 'zh' });
    } catch {
      continue; // the room is not in this demo campus
    }
    const password = randomBytes(9).toString('base64url');
    await logins.redeem(username, issued.code, password);
    out.push({ username, password, account });
  }
  writeFileSync(file, JSON.stringify(out, null, 2), { mode: 0o600 });
  return out;
}
