import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, nameOf, PASSWORD, type ApiFixture } from '../api/routes/support.ts';

/**
 * Cross-site request forgery, tried as an attacker would: a page served from another port of the
 * same host (SameSite cookies do not separate the two) makes a logged-in supervisor's browser
 * submit a form to every approval route of the back office — `enctype=text/plain`, which needs
 * no preflight — and a no-cors fetch with the cookie. Every one must be refused, and nothing
 * pending may change.
 */
describe('cross-site requests from another origin of the same host', () => {
  let f: ApiFixture;
  let api: string;
  let attacker: Server;
  let attackerUrl: string;
  let browser: Browser;
  let page: Page;
  let refundId: number;

  beforeAll(async () => {
    f = await apiFixture({ secureCookie: false });
    api = await f.app.listen({ port: 0, host: '127.0.0.1' });
    // Something for each approval to act on: a pending refund (the one checked afterwards).
    const steps = [
      await f.call('clerk', 'POST', '/api/accounts', {
        id: 'X1',
        customerType: 'student-room',
        holder: 'Room X1',
        meters: ['E-X1'],
      }),
      await f.call('supervisor', 'POST', '/api/accounts/X1/verify-tariff'),
      await f.call('clerk', 'POST', '/api/topups', {
        account: 'X1',
        amountFen: 5000,
        method: 'cash',
        reference: 'CS-1',
      }),
    ];
    for (const s of steps) expect(s.statusCode, s.body).toBeLessThan(300);
    const refund = await f.call('clerk', 'POST', '/api/refunds', {
      account: 'X1',
      amountFen: 1000,
      method: 'cash',
      reason: 'moving out',
    });
    expect(refund.statusCode, refund.body).toBe(201);
    refundId = refund.json().id as number;

    attacker = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const target = url.searchParams.get('target') ?? '';
      res.setHeader('content-type', 'text/html');
      if (url.pathname === '/form') {
        // A text/plain form posting `{"x":"=1"}`-shaped JSON, the classic trick for JSON endpoints.
        res.end(`<form id=f method=POST action="${api}${target}" enctype="text/plain">
          <input name='{"reason":"x","ignore":"' value='"}'></form><script>document.getElementById('f').submit()</script>`);
      } else {
        res.end(`<script>fetch("${api}${target}", {method: "POST", mode: "no-cors", credentials: "include",
          headers: {"content-type": "text/plain"}, body: "{}"}).then(() => document.title = "sent", () => document.title = "sent")</script>`);
      }
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;

    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    // The supervisor logs in to the back office in this browser: the session cookie is set.
    await page.goto(`${api}/openapi.json`);
    const login = await page.evaluate(
      async ([username, password]) =>
        (
          await fetch('/api/session', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username, password }),
          })
        ).status,
      [nameOf('supervisor'), PASSWORD],
    );
    expect(login).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => attacker?.close(r));
    await f?.close();
  });

  async function approvalRoutes(): Promise<string[]> {
    const spec = (await f.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    return Object.entries(spec.paths)
      .filter(
        ([path, ops]) =>
          'post' in ops && /\/(approve|confirm|verify-tariff|reject)$|^\/api\/policy-approvals$/.test(path),
      )
      .map(([path]) =>
        path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'id' ? String(refundId) : 'X1')),
      );
  }

  it('the session works from the back office’s own origin (the control: the cookie is really there)', async () => {
    const me = await page.evaluate(async () => (await fetch('/api/me')).status);
    expect(me).toBe(200);
  });

  it('a form from another port gets 403 CROSS_SITE_REQUEST on every approval route, and nothing changes', async () => {
    const routes = await approvalRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(12);
    for (const target of routes) {
      const answered = page.waitForResponse((r) => r.url() === `${api}${target}`);
      await page.goto(`${attackerUrl}/form?target=${encodeURIComponent(target)}`);
      const res = await answered;
      expect(res.status(), target).toBe(403);
      expect(((await res.json()) as { code: string }).code, target).toBe('CROSS_SITE_REQUEST');
    }
    const refund = await f.call('supervisor', 'GET', `/api/prepaid-requests/${refundId}`);
    expect(refund.json()).toMatchObject({ id: refundId, status: 'pending' });
  });

  it('a no-cors fetch with the cookie is refused too', async () => {
    const target = `/api/refunds/${refundId}/approve`;
    const answered = page.waitForResponse((r) => r.url() === `${api}${target}`);
    await page.goto(`${attackerUrl}/fetch?target=${encodeURIComponent(target)}`);
    expect((await answered).status()).toBe(403);
    const refund = await f.call('supervisor', 'GET', `/api/prepaid-requests/${refundId}`);
    expect(refund.json()).toMatchObject({ id: refundId, status: 'pending' });
  });
});
