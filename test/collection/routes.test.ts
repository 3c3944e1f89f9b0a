import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { local } from '../billing/support.ts';
import { moneyApi } from '../web/money-pages-server.ts';

/**
 * Collection and reconciliation over HTTP (app.inject on the real services and a temp SQLite
 * file): every route in the OpenAPI document, the permission checked before the handler, bad input
 * refused with the field named and nothing recorded.
 */

describe('collection and reconciliation API', () => {
  let s: Awaited<ReturnType<typeof moneyApi>>;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    s = await moneyApi();
    for (const u of ['bill.zhao', 'clerk.wang', 'sup.li', 'fin.qian', 'asst.sun'])
      tokens[u] = await s.login(u);
  });
  afterAll(async () => {
    await s?.app.close();
    s?.db.close();
  });
  const call = (who: string | null, method: 'GET' | 'POST', url: string, payload?: object) =>
    s.app.inject({
      method,
      url,
      ...(method === 'POST' ? { payload: payload ?? {} } : {}),
      headers: who ? { authorization: `Bearer ${tokens[who]}` } : {},
    });

  it('documents every route in the OpenAPI document', async () => {
    const doc = (await s.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, object> };
    for (const path of [
      '/api/collection/fee-tables',
      '/api/collection/fee-tables/{id}',
      '/api/collection/fee-tables/{id}/objections',
      '/api/collection/objections/{id}/decision',
      '/api/collection/fee-tables/{id}/confirm',
      '/api/collection/fee-tables/{id}/notices',
      '/api/collection/fee-tables/{id}/notices/print',
      '/api/collection/fee-tables/{id}/payroll',
      '/api/collection/notices/{number}',
      '/api/collection/payments',
      '/api/collection/arrears',
      '/api/collection/reminders',
      '/api/collection/waivers',
      '/api/collection/waivers/{id}/decision',
      '/api/collection/payments/{id}/reversal',
      '/api/collection/reversals',
      '/api/collection/reversals/{id}/decision',
      '/api/reconciliation/reports',
      '/api/reconciliation/halves/{half}',
      '/api/reconciliation/finance-records',
      '/api/reconciliation/inspection-items',
      '/api/reconciliation/reports/{id}',
      '/api/reconciliation/reports/{id}/explanations',
      '/api/reconciliation/reports/{id}/sign',
    ])
      expect(Object.keys(doc.paths), path).toContain(path);
  });

  it('checks who may act, and names bad input', async () => {
    expect((await call(null, 'GET', '/api/collection/arrears')).statusCode).toBe(401);
    const byClerk = await call('clerk.wang', 'POST', '/api/collection/fee-tables', { run: s.run.id });
    expect([byClerk.statusCode, byClerk.json().code]).toEqual([403, 'FORBIDDEN']);
    const published = await call('bill.zhao', 'POST', '/api/collection/fee-tables', { run: s.run.id });
    expect(published.statusCode).toBe(201);
    s.time.now = local(2026, 12, 10, 9);
    expect(
      (await call('bill.zhao', 'POST', `/api/collection/fee-tables/ft-${s.run.id}/confirm`)).statusCode,
    ).toBe(200);
    const payment = {
      notice: '2026-11-0003',
      account: 'V-LAUNDRY',
      period: '2026-11',
      method: 'cash',
      amountFen: 100.5,
      reference: 'RC-9',
    };
    const bad = await call('clerk.wang', 'POST', '/api/collection/payments', payment);
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'INVALID_AMOUNT']);
    expect(bad.json().message).toContain('100.5');
    const finance = await call('fin.qian', 'POST', '/api/collection/payments', {
      ...payment,
      amountFen: 100,
    });
    expect(finance.statusCode).toBe(403);
    const ok = await call('clerk.wang', 'POST', '/api/collection/payments', { ...payment, amountFen: 100 });
    expect([ok.statusCode, ok.json().notice.principalDueFen]).toEqual([201, 50_909]);
    const html = await call(
      'fin.qian',
      'GET',
      `/api/collection/fee-tables/ft-${s.run.id}/notices/print?lang=en`,
    );
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain('Received by (signature)');
    const unknown = await call('fin.qian', 'POST', '/api/reconciliation/finance-records', {
      half: '2026-12-H2',
      method: 'cheque',
      amountFen: 1,
      reference: 'x',
    });
    expect([unknown.statusCode, unknown.json().code]).toEqual([400, 'INVALID_REQUEST']);
    expect(unknown.json().message).toContain('method');
    s.time.now = local(2027, 1, 2, 9);
    const report = await call('clerk.wang', 'POST', '/api/reconciliation/reports', { half: '2026-12-H1' });
    expect(report.statusCode).toBe(201);
    const early = await call('asst.sun', 'POST', `/api/reconciliation/reports/${report.json().id}/sign`);
    expect([early.statusCode, early.json().code]).toEqual([409, 'WRONG_SIGNING_STEP']);
  });
});
