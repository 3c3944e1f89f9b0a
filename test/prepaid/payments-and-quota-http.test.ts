import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCampus } from '../../config/campus.ts';
import type { FreeQuotaSettings } from '../../config/schemas/prepaid.ts';
import { backofficeRoutes } from '../../services/backoffice/api-routes.ts';
import type { Role } from '../../services/platform/auth/roles.ts';
import { Users } from '../../services/platform/auth/users.ts';
import { buildApi } from '../../services/platform/http/app.ts';
import { RelayControl } from '../../services/operations/control/relay-control.ts';
import { Prepaid } from '../../services/money/prepaid/prepaid.ts';
import { tempBackoffice, tempCampusFile } from '../audit/helpers.ts';
import { PASSWORD, TEST_SCRYPT_COST } from '../auth/setup.ts';
import { testKeys } from '../control/support.ts';
import { supervisor, tariffs } from './support.ts';

/**
 * Issue 22 item 7 over HTTP, on real services: payment references are unique whatever the method,
 * letter case or character width; free quota is entered by one person and confirmed by another
 * who is a supervisor, within the campus file's cap per room and term.
 */

const STAFF: Record<string, Role[]> = {
  clerk: ['clerk'],
  clerk2: ['clerk'],
  operator: ['operator'],
  supervisor: ['supervisor'],
  supervisor2: ['supervisor'],
  /** Clerk and supervisor at once: only the two-person rule stops them doing both steps. */
  lead: ['clerk', 'supervisor'],
};
type Who = keyof typeof STAFF;

/** The example campus file (in `dir`) without its own `prepaid` section, and where it is. */
function exampleWithoutPrepaid(dir: string): { file: string; text: string } {
  const file = tempCampusFile(dir);
  const text = readFileSync(file, 'utf8').replace(/^prepaid:\n(?:(?: .*)?\n)*/m, '');
  expect(text).not.toMatch(/^prepaid:/m);
  return { file, text };
}

/** The example campus file with a cap of 50 kWh per room and term, as a campus would write it. */
function campusFreeQuota(dir: string): FreeQuotaSettings {
  const { file, text } = exampleWithoutPrepaid(dir);
  writeFileSync(
    file,
    `${text}\nprepaid:\n  freeQuota:\n    capKwhPerRoomPerTerm: 50\n    terms:\n      - { name: autumn, months: [9, 10, 11, 12, 1] }\n      - { name: spring, months: [2, 3, 4, 5, 6, 7] }\n`,
  );
  return loadCampus(file).config.prepaid.freeQuota;
}

let t: ReturnType<typeof tempBackoffice>;
let prepaid: Prepaid;
let freeQuota: FreeQuotaSettings;
let call: (who: Who, method: 'GET' | 'POST', url: string, body?: object) => Promise<LightMyRequestResponse>;
let close: () => Promise<void>;

beforeAll(async () => {
  t = tempBackoffice();
  freeQuota = campusFreeQuota(t.dir);
  const users = new Users({ db: t.db, audit: t.audit, clock: t.clock, scryptCost: TEST_SCRYPT_COST });
  prepaid = new Prepaid({ db: t.db, audit: t.audit, tariffs, clock: t.clock, freeQuota });
  const control = new RelayControl({
    db: t.db,
    audit: t.audit,
    clock: t.clock,
    signingKey: testKeys().privateKey,
    locate: () => undefined,
    send: async () => {},
    // No gateway in this test: relay control is here only because the routes need it.
    ackKeys: () => undefined,
  });
  const app = await buildApi({
    auth: users,
    routes: backofficeRoutes({ users, prepaid, control, audit: t.audit, timezone: tariffs.timezone }),
  });
  const tokens: Record<string, string> = {};
  for (const [who, roles] of Object.entries(STAFF)) {
    await users.provisionUser({ username: `${who}.test`, displayName: who, roles, password: PASSWORD });
    tokens[who] = (await users.login(`${who}.test`, PASSWORD, { ip: '10.0.0.1' })).token;
  }
  // A POST always carries a JSON body, `{}` for an approval, as the web app sends it: the
  // server takes state-changing requests only as JSON.
  call = (who, method, url, body) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens[who]}` },
      ...(method === 'POST' ? { payload: body ?? {} } : {}),
    });
  close = async () => {
    await app.close();
    t.db.close();
    rmSync(t.dir, { recursive: true, force: true });
  };
  for (const room of ['E1-101', 'E1-102', 'E1-103']) {
    prepaid.openAccount(
      { id: 'clerk.test', kind: 'user', roles: ['clerk'] },
      {
        id: room,
        customerType: 'student-room',
        holder: `Room ${room} (invented)`,
        meters: [`m-${room}`],
        occupants: 4,
      },
    );
    prepaid.verifyTariffType(supervisor, room);
  }
});
afterAll(() => close());

const topUp = (who: Who, account: string, method: string, reference: string, amountFen = 1000) =>
  call(who, 'POST', '/api/topups', { account, amountFen, method, reference });
const credit = (who: Who, account: string, period: string, kwh: number) =>
  call(who, 'POST', '/api/free-quota', { account, period, kwh });
const ledgerTypes = (account: string) => prepaid.ledger(account).map((e) => `${e.type}:${e.amountFen}`);

describe('payment references', () => {
  it('refuses a reference already booked, under any method, letter case or width, naming the first', async () => {
    expect((await topUp('clerk', 'E1-101', 'cash', 'PAY-0001')).statusCode).toBe(201);
    for (const [method, reference] of [
      ['card', 'pay-0001'],
      ['cash', 'Pay-0001'],
      ['transfer', ' ＰＡＹ－０００１ '],
    ] as const) {
      const again = await topUp('clerk2', 'E1-102', method, reference);
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('DUPLICATE_REFERENCE');
      expect(again.json().message).toContain('cash PAY-0001 on account E1-101');
    }
    expect(ledgerTypes('E1-101')).toEqual(['topup:1000']);
    expect(ledgerTypes('E1-102')).toEqual([]);
    // Another number is another payment.
    expect((await topUp('clerk2', 'E1-102', 'card', 'PAY-0002')).statusCode).toBe(201);
  });

  it('the database holds each reference once and keeps it: a second row or a delete is refused', () => {
    const entry = prepaid.ledger('E1-102')[0]!;
    expect(() =>
      t.db
        .prepare('INSERT INTO prepaid_payment_references (key, ledger_id) VALUES (?, ?)')
        .run('pay-0002', entry.id),
    ).toThrow(/UNIQUE/);
    expect(() => t.db.prepare('DELETE FROM prepaid_payment_references').run()).toThrow(
      /stays with its top-up/,
    );
    expect(() =>
      t.db.prepare("UPDATE prepaid_payment_references SET key = 'x' WHERE key = 'pay-0002'").run(),
    ).toThrow(/stays with its top-up/);
  });

  it('files the references of top-ups booked before, on start: an old pay-0009 stops a new PAY-0009', () => {
    // A top-up booked by an older version, which filed no reference.
    t.db
      .prepare(
        `INSERT INTO prepaid_ledger (account_id, at, type, amount_fen, recorded_by, method, reference)
         VALUES ('E1-103', ?, 'topup', 500, 'clerk.test', 'card', 'pay-0009')`,
      )
      .run(t.clock());
    const restarted = new Prepaid({ db: t.db, audit: t.audit, tariffs, clock: t.clock, freeQuota });
    expect(() =>
      restarted.topUp(
        { id: 'clerk.test', kind: 'user', roles: ['clerk'] },
        {
          account: 'E1-103',
          amountFen: 500,
          method: 'transfer',
          reference: 'Pay-0009',
        },
      ),
    ).toThrow(/already recorded/);
  });

  it('refuses a reference with nothing in it once spaces are trimmed', async () => {
    const blank = await topUp('clerk', 'E1-101', 'cash', '\u3000');
    expect(blank.statusCode).toBe(400);
  });
});

describe('free quota: two people, and a cap per room and term from the campus file', () => {
  it('is entered by a clerk or operator, never by a supervisor alone; the enterer may not confirm it', async () => {
    const bySupervisor = await credit('supervisor', 'E1-101', '2025-09', 5);
    expect(bySupervisor.statusCode).toBe(403);
    expect(bySupervisor.json().code).toBe('FORBIDDEN');

    const entered = await credit('lead', 'E1-101', '2025-09', 5);
    expect(entered.statusCode).toBe(201);
    const id = entered.json().id as number;
    const self = await call('lead', 'POST', `/api/free-quota/${id}/confirm`);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('SELF_APPROVAL');
    expect(ledgerTypes('E1-101')).toEqual(['topup:1000']);
    // A clerk is not a supervisor: no confirmation either.
    expect((await call('clerk', 'POST', `/api/free-quota/${id}/confirm`)).json().code).toBe('FORBIDDEN');

    const confirmed = await call('supervisor', 'POST', `/api/free-quota/${id}/confirm`);
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toMatchObject({
      type: 'free-quota',
      recordedBy: 'lead.test',
      approvedBy: 'supervisor.test',
    });
  });

  it('refuses a grant split into several that together pass the cap, pending ones counted', async () => {
    // E1-102, autumn 2025 term (2025-09 … 2026-01), cap 50 kWh.
    const first = await credit('operator', 'E1-102', '2025-09', 30);
    expect(first.statusCode).toBe(201);
    const second = await credit('operator', 'E1-102', '2025-10', 30);
    expect(second.statusCode).toBe(409);
    expect(second.json().code).toBe('QUOTA_CAP_EXCEEDED');
    expect(second.json().message).toMatch(/30 kWh .*autumn 2025 term \(2025-09 to 2026-01\).*cap of 50 kWh/);
    // Up to the cap exactly, by someone else, is allowed; one Wh more is not, January included.
    expect((await credit('clerk', 'E1-102', '2025-10', 20)).statusCode).toBe(201);
    expect((await credit('clerk2', 'E1-102', '2025-11', 0.001)).json().code).toBe('QUOTA_CAP_EXCEEDED');
    expect((await credit('clerk2', 'E1-102', '2026-01', 1)).json().code).toBe('QUOTA_CAP_EXCEEDED');
    // The spring term has its own cap.
    expect((await credit('operator', 'E1-102', '2026-02', 50)).statusCode).toBe(201);
    // A rejected grant no longer counts.
    const rejected = await call('supervisor', 'POST', `/api/free-quota/${first.json().id}/reject`, {
      reason: 'room empty in September',
    });
    expect(rejected.statusCode).toBe(200);
    expect((await credit('clerk2', 'E1-102', '2025-11', 30)).statusCode).toBe(201);
    expect((await credit('clerk2', 'E1-102', '2025-12', 0.001)).json().code).toBe('QUOTA_CAP_EXCEEDED');
  });

  it('gives nothing in a month of no term (August here)', async () => {
    const summer = await credit('operator', 'E1-103', '2025-08', 1);
    expect(summer.statusCode).toBe(409);
    expect(summer.json().code).toBe('QUOTA_NOT_ELIGIBLE');
    expect(summer.json().message).toContain('2025-08 is in no free-quota term');
  });

  it('checks the cap again on confirmation: a lowered cap stops a grant entered under the old one', async () => {
    const entered = await credit('operator', 'E1-103', '2026-03', 40);
    expect(entered.statusCode).toBe(201);
    // The campus file now says 20 kWh and the back office restarted.
    const lowered = new Prepaid({
      db: t.db,
      audit: t.audit,
      tariffs,
      clock: t.clock,
      freeQuota: { ...freeQuota, capKwhPerRoomPerTerm: 20 },
    });
    const before = ledgerTypes('E1-103');
    expect(() => lowered.confirmFreeQuota(supervisor, entered.json().id as number)).toThrow(/cap of 20 kWh/);
    expect(ledgerTypes('E1-103')).toEqual(before);
    expect(lowered.request(entered.json().id as number).status).toBe('pending');
  });
});

describe('the campus file section', () => {
  it('refuses a bad cap or terms with the line and path, and defaults when absent', () => {
    const { file, text: base } = exampleWithoutPrepaid(t.dir);
    writeFileSync(file, base);
    expect(loadCampus(file).config.prepaid.freeQuota).toEqual({
      capKwhPerRoomPerTerm: 300,
      terms: [
        { name: 'autumn', months: [9, 10, 11, 12, 1] },
        { name: 'spring', months: [2, 3, 4, 5, 6, 7, 8] },
      ],
    });
    writeFileSync(
      file,
      `${base}\nprepaid:\n  freeQuota:\n    capKwhPerRoomPerTerm: -1\n    terms:\n      - { name: autumn, months: [9, 10] }\n      - { name: winter, months: [10, 11] }\n`,
    );
    let message = '';
    try {
      loadCampus(file);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/campus\.yaml:\d+: prepaid\.freeQuota\.capKwhPerRoomPerTerm/);
    expect(message).toMatch(/prepaid\.freeQuota\.terms: a month belongs to two terms/);
  });
});
