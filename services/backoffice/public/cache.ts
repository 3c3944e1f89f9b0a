import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Public answers are the same for everyone, so a phone on a slow line and the campus's proxies may
 * keep them: a strong ETag from the body (a change of tariff or a new notice changes it at once)
 * and a short max-age, so that a published change is seen within a minute without revalidating on
 * every view. A matching If-None-Match gets 304 with no body.
 */
export const PUBLIC_MAX_AGE_S = 60;

export function sendCached(
  req: FastifyRequest,
  reply: FastifyReply,
  body: string,
  contentType: string,
  maxAgeS = PUBLIC_MAX_AGE_S,
): FastifyReply {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  reply.header('ETag', etag);
  reply.header('Cache-Control', `public, max-age=${maxAgeS}`);
  reply.header('Vary', 'Accept-Encoding');
  const match = req.headers['if-none-match'];
  if (match && match.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    return reply.code(304).send();
  }
  return reply.type(contentType).send(body);
}
