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
const IdParam = z.object({ id: z.coerce.number().int().positive() }).strict();
const Reason = z.string().trim().max(500).optional();

/**
 * The one-time code redemption: public (the user has no session yet); the code, not a session,
 * proves who they are.
 */
export function passwordCodeRoutes(s: { users: Users }): ((app: FastifyInstance) => void)[] {
  return [
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/password/redeem',
        summary: 'Set one’s password with the one-time code an administrator handed over',
        tags,
        body: z.object({ username: Name, code: z.string().min(1).max(200), password: Password }).strict(),
        status: 204,
        handler: async ({ body }) => {
          await s.users.redeemCode(body.username, body.code, body.password);
        },
      }),
  ];
}

/**
 * User and API token management, for administrators only, under four eyes (user-admin.ts). The service refuses incompatible
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
        summary:
          'All users, disabled ones included, each with its links in force to the administrators who made, reset or changed it (who cannot be its second person)',
        tags,
        permission,
        handler: ({ actor }) => users.listUsers(actor),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users',
        summary:
          'Propose a user with roles; a second administrator approves, and the user sets a password with the one-time code',
        tags,
        permission,
        body: z
          .object({
            username: Name,
            displayName: z.string().min(1).max(100),
            roles: Roles,
            reason: Reason,
          })
          .strict(),
        status: 202,
        handler: ({ body, actor }) => users.proposeUser(actor, body, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'PUT',
        url: '/api/users/:username/roles',
        summary:
          "Replace a user's roles: removing takes effect on their next request, adding is a request for a second administrator",
        tags,
        permission,
        params: UserParams,
        body: z.object({ roles: Roles, reason: Reason }).strict(),
        handler: ({ params, body, actor }) => users.setRoles(actor, params.username, body.roles, body.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users/:username/disable',
        summary: 'Disable a user and end their sessions (at once)',
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
        summary: 'Propose to enable a disabled user (a second administrator approves)',
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
        summary:
          'Propose a password reset: on approval the old password stops working and the approver gets a one-time code for the user',
        tags,
        permission,
        params: UserParams,
        body: OptionalReason,
        status: 202,
        handler: ({ params, body, actor }) => users.resetPassword(actor, params.username, body?.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/users/:username/unlock',
        summary: "Clear a user's failed-login delay",
        tags,
        permission,
        params: UserParams,
        body: OptionalReason,
        status: 204,
        handler: ({ params, body, actor }) => {
          users.unlock(actor, params.username, body?.reason);
        },
      }),
    (app) =>
      route(app, {
        method: 'GET',
        url: '/api/user-requests',
        summary: 'User administration requests (pending ones wait for a second administrator)',
        tags,
        permission,
        query: z
          .object({ state: z.enum(['pending', 'approved', 'rejected', 'cancelled']).optional() })
          .strict(),
        handler: ({ query, actor }) => users.listRequests(actor, query.state),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/user-requests/:id/approve',
        summary:
          'Approve another administrator’s request; a new or reset user’s one-time code or a token’s secret is returned this once',
        tags,
        permission,
        params: IdParam,
        body: OptionalReason,
        handler: ({ params, actor }) => users.approveRequest(actor, params.id),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/user-requests/:id/reject',
        summary: 'Reject another administrator’s request',
        tags,
        permission,
        params: IdParam,
        body: OptionalReason,
        handler: ({ params, body, actor }) => users.rejectRequest(actor, params.id, body?.reason),
      }),
    (app) =>
      route(app, {
        method: 'POST',
        url: '/api/user-requests/:id/cancel',
        summary: 'Withdraw one’s own request',
        tags,
        permission,
        params: IdParam,
        body: OptionalReason,
        handler: ({ params, body, actor }) => users.cancelRequest(actor, params.id, body?.reason),
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
        summary:
          'Propose a scoped API token for a machine; on a second administrator’s approval the secret is returned to them once',
        tags,
        permission,
        body: z
          .object({
            name: Name,
            roles: Roles.min(1),
            scopes: Scopes,
            expiresAt: UtcMs.optional(),
            reason: Reason,
          })
          .strict(),
        status: 202,
        handler: ({ body, actor }) => {
          const { reason, ...input } = body;
          return users.createApiToken(actor, input, reason);
        },
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
