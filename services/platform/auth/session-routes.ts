import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { SESSION_COOKIE, tokenOf } from '../http/app.ts';
import { route } from '../http/route.ts';
import type { Users } from './users.ts';
import { passwordCodeRoutes } from './user-routes.ts';

const tags = ['session'];

/**
 * The session cookie: HttpOnly (page scripts never see it), SameSite=Strict (no other site can
 * make the browser send it, so no CSRF token is needed), Secure unless turned off for plain HTTP.
 * No Max-Age: the server decides when a session ends (idle and absolute limits), not the browser.
 */
function sessionCookie(value: string, secure: boolean, clear = false): string {
  const parts = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (secure) parts.push('Secure');
  if (clear) parts.push('Max-Age=0');
  return parts.join('; ');
}

const clearCookie = (reply: FastifyReply, secure: boolean) =>
  reply.header('set-cookie', sessionCookie('', secure, true));

/** What the session routes need: the users, and whether the cookie is HTTPS-only (default true). */
export function sessionRoutes(s: {
  users: Users;
  secureCookie?: boolean;
}): ((app: FastifyInstance) => void)[] {
  const secure = s.secureCookie ?? true;
  return [
    ...passwordCodeRoutes(s),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/session',
        summary:
          'Log in: sets the HttpOnly session cookie and returns the token too, for clients without cookies',
        tags,
        body: z
          .object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) })
          .strict(),
        status: 201,
        handler: async ({ body, req, reply }) => {
          // Failed logins are limited per user name and per client address (req.ip: set the
          // server's trustProxy when it runs behind a reverse proxy, or every client is the proxy).
          const session = await s.users.login(body.username, body.password, { ip: req.ip });
          reply.header('set-cookie', sessionCookie(session.token, secure));
          return { token: session.token, actor: session.actor, expiresAt: session.expiresAt };
        },
      }),
    (app) =>
      route(app, {
        method: 'DELETE',
        url: '/api/session',
        summary: 'Log out: ends the session and clears the cookie',
        tags,
        // Public, so that a browser holding an expired session can still clear its cookie; an
        // unknown or expired token is ignored.
        status: 204,
        handler: ({ req, reply }) => {
          const token = tokenOf(req.headers.authorization, req.headers.cookie);
          if (token) s.users.logout(token);
          clearCookie(reply, secure);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/me',
        summary: 'Who is logged in: the actor, with the display name for a person',
        tags,
        permission: 'authenticated',
        handler: ({ actor }) => {
          const user = actor.kind === 'user' ? s.users.getUser(actor.id) : null;
          return { actor, displayName: user?.displayName ?? null };
        },
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/me/password',
        summary: 'Change your own password, giving the current one; ends all your sessions',
        tags,
        permission: 'authenticated',
        body: z
          .object({ current: z.string().min(1).max(1024), password: z.string().min(1).max(1024) })
          .strict(),
        status: 204,
        handler: async ({ body, actor, req, reply }) => {
          await s.users.changePassword(actor, body.current, body.password, { ip: req.ip });
          clearCookie(reply, secure);
        },
      }),
  ];
}
