import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, ROLES } from '../../services/platform/auth/roles.ts';
import { webRoutes } from '../../services/backoffice/web/routes.ts';

describe('webRoutes', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    await app.register(async (scope) => webRoutes({ timezone: 'Asia/Shanghai' })(scope));
    await app.ready();
  });
  afterAll(() => app.close());

  it('serves the page, the modules and the stylesheet with their types and a strict CSP', async () => {
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.body).toContain('/app/app.js');
    for (const [url, type] of [
      ['/app/app.js', 'text/javascript; charset=utf-8'],
      ['/app/i18n.js', 'text/javascript; charset=utf-8'],
      ['/app/styles.css', 'text/css; charset=utf-8'],
      ['/vendor/uplot.esm.js', 'text/javascript; charset=utf-8'],
      ['/vendor/uplot.min.css', 'text/css; charset=utf-8'],
    ] as const) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toBe(type);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
    }
  });

  it('serves only the files of the public folder', async () => {
    for (const url of [
      '/app/routes.ts',
      '/app/../routes.ts',
      '/app/%2e%2e/routes.ts',
      '/app/..%2Froutes.ts',
      '/vendor/package.json',
      '/vendor/..%2Fpackage.json',
    ]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404);
    }
  });

  it('gives the browser the permission map of roles.ts and the campus zone', async () => {
    const res = await app.inject({ url: '/app/permissions.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ roles: [...ROLES], permissions: PERMISSIONS, timezone: 'Asia/Shanghai' });
  });
});
