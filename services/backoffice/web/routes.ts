import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PERMISSIONS, ROLES } from '../../platform/auth/roles.ts';

/**
 * The back-office web app: static files with no build step (services/backoffice/web/public), uPlot from
 * node_modules, and the permission map the browser uses to hide what a role may not do. Every
 * route here is public: the files hold no data, and the API checks every permission on the server
 * whatever the page shows.
 */

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Scripts and styles only from this server; no inline script, no framing, API calls only to the
 * same origin (a page that somehow got injected markup cannot send data elsewhere). uPlot sets
 * element styles from script, which style-src does not govern.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface WebOptions {
  /** The folder served under /app/ (default: services/backoffice/web/public). */
  publicDir?: string;
  /** The campus time zone, for pages a role without `readings.view` opens (the tree carries it too). */
  timezone?: string;
}

/** Every file directly in `dir` (no sub-folders, so no path is ever built from the request). */
function listFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && CONTENT_TYPES[extname(entry.name)]) files.set(entry.name, join(dir, entry.name));
  }
  return files;
}

function uplotFile(name: 'uPlot.esm.js' | 'uPlot.min.css'): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('uplot')), name);
}

function send(reply: FastifyReply, file: string, contentType: string, cache: string): FastifyReply {
  return reply
    .header('content-type', contentType)
    .header('cache-control', cache)
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', CSP)
    .header('referrer-policy', 'no-referrer')
    .send(readFileSync(file));
}

/** The permission map and roles as the browser reads them (generated from services/platform/auth/roles.ts). */
export function permissionsDocument(timezone?: string): {
  roles: readonly string[];
  permissions: Record<string, readonly string[]>;
  timezone: string | null;
} {
  return { roles: ROLES, permissions: PERMISSIONS, timezone: timezone ?? null };
}

/** A fastify plugin function for `buildApi({ routes })` or the back office's `extraRoutes`. */
export function webRoutes(options: WebOptions = {}): (app: FastifyInstance) => void {
  const dir = options.publicDir ?? PUBLIC_DIR;
  const files = listFiles(dir);
  const index = files.get('index.html');
  if (!index) throw new Error(`web app: no index.html in ${dir}`);
  const permissions = JSON.stringify(permissionsDocument(options.timezone));
  const vendor = {
    'uplot.esm.js': { file: uplotFile('uPlot.esm.js'), type: CONTENT_TYPES['.js']! },
    'uplot.min.css': { file: uplotFile('uPlot.min.css'), type: CONTENT_TYPES['.css']! },
  } as const;
  // The app changes with the server; the browser revalidates. The vendored library is versioned.
  const noCache = 'no-cache';

  return (app) => {
    const hidden = { schema: { hide: true } };
    app.get('/', hidden, (_req, reply) => send(reply, index, CONTENT_TYPES['.html']!, noCache));
    app.get('/app/permissions.json', hidden, (_req, reply) =>
      reply
        .header('content-type', CONTENT_TYPES['.json']!)
        .header('cache-control', noCache)
        .header('x-content-type-options', 'nosniff')
        .send(permissions),
    );
    app.get<{ Params: { '*': string } }>('/app/*', hidden, (req, reply) => {
      const name = req.params['*'];
      const file = files.get(name);
      if (!file) return reply.code(404).send({ code: 'NOT_FOUND', message: `no file ${name}` });
      return send(reply, file, CONTENT_TYPES[extname(name)]!, noCache);
    });
    app.get<{ Params: { name: string } }>('/vendor/:name', hidden, (req, reply) => {
      const v = Object.hasOwn(vendor, req.params.name)
        ? vendor[req.params.name as keyof typeof vendor]
        : undefined;
      if (!v) return reply.code(404).send({ code: 'NOT_FOUND', message: `no file ${req.params.name}` });
      return send(reply, v.file, v.type, 'public, max-age=86400');
    });
  };
}
