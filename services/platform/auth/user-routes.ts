import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PERMISSIONS, ROLES, type Permission } from './roles.ts';
import { route } from '../http/route.ts';
import type { Users } from './users.ts';
import { OptionalReason, UtcMs } from '../http/schemas.ts';

const tags = ['users'];
const permission = 'users.manage';

const Roles = z.array(z.enum(ROLES)).max(ROLES.length);
const Scopes = z
  .array(z.enum(Object.keys(PERMISSIONS) as [Permission, ...Permission[]]))
  .min(1)
  .max(Object.keys(PERMISSIONS).length);
const Password = z.string().min(1).max(1024);
const Name = z.string().min(1).max(64);
const UserParams = z.object({ username: Name }).strict();
const TokenParams = z.object({ name: Name }).strict();

/**
 * User and API token management, for administrators only. The service refuses incompatible
 * duties (a reader who records payments, an administrator who approves), changes to one's own
 * roles, and removing the last administrator; passwords are never returned or audited.
 */
export function userRoutes(s: { users: Users }): ((app: FastifyInstance) => void)[] {
  const { users } = s;
  return [
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/users',
        summary: 'All users, disabled ones included',
        tags,
        permission,
        handler: ({ actor }) => users.listUsers(actor),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users',
        summary: 'Create a user with roles and a first password',
        tags,
        permission,
        body: z
          .object({
            username: Name,
            displayName: z.string().min(1).max(100),
            roles: Roles,
            password: Password,
          })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => users.createUser(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'PUT',
        url: '/api/users/:username/roles',
        summary: "Replace a user's roles (takes effect on their next request)",
        tags,
        permission,
        params: UserParams,
        body: z.object({ roles: Roles, reason: z.string().trim().max(500).optional() }).strict(),
        handler: ({ params, body, actor }) => users.setRoles(actor, params.username, body.roles, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users/:username/disable',
        summary: 'Disable a user and end their sessions',
        tags,
        permission,
        params: UserParams,
        body: OptionalReason,
        handler: ({ params, body, actor }) => users.disable(actor, params.username, body?.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users/:username/enable',
        summary: 'Enable a disabled user',
        tags,
        permission,
        params: UserParams,
        body: OptionalReason,
        handler: ({ params, body, actor }) => users.enable(actor, params.username, body?.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users/:username/password',
        summary: "Set a user's password (forgotten, or a new user's first); ends their sessions",
        tags,
        permission,
        params: UserParams,
        body: z.object({ password: Password, reason: z.string().trim().max(500).optional() }).strict(),
        status: 204,
        handler: async ({ params, body, actor }) => {
          await users.resetPassword(actor, params.username, body.password, body.reason);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/tokens',
        summary: 'All API tokens (never their secrets)',
        tags,
        permission,
        handler: ({ actor }) => users.listApiTokens(actor),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/tokens',
        summary: 'Create a scoped API token for a machine; the secret is returned this once',
        tags,
        permission,
        body: z
          .object({ name: Name, roles: Roles.min(1), scopes: Scopes, expiresAt: UtcMs.optional() })
          .strict(),
        status: 201,
        handler: ({ body, actor }) => users.createApiToken(actor, body),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/tokens/:name/revoke',
        summary: 'Revoke an API token for good',
        tags,
        permission,
        params: TokenParams,
        body: OptionalReason,
        status: 204,
        handler: ({ params, body, actor }) => {
          users.revokeApiToken(actor, params.name, body?.reason);
        },
      }),
  ];
}
