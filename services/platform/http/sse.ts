import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/**
 * Takes over a fastify reply as a server-sent-events stream: the headers proxies must not buffer
 * behind, a first comment (so the client sees the stream open at once), and a keep-alive comment
 * every `keepAliveMs` unless the client is backed up anyway. Returns the raw response and a
 * function that stops the keep-alive; the caller ends its subscriptions on the response's close.
 */
export function openEventStream(
  reply: FastifyReply,
  opts: { comment: string; keepAliveMs: number; retryMs?: number },
): { res: ServerResponse; stopKeepAlive: () => void } {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.socket?.setNoDelay(true);
  res.write(`: ${opts.comment}\n${opts.retryMs ? `retry: ${opts.retryMs}\n` : ''}\n`);
  const keepAlive = setInterval(() => {
    if (!res.writableNeedDrain) res.write(': keep-alive\n\n');
  }, opts.keepAliveMs);
  keepAlive.unref();
  return { res, stopKeepAlive: () => clearInterval(keepAlive) };
}
