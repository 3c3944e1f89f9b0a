import type { Server, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** The streams open on each HTTP server, so that closing the server can end them. */
const openStreams = new WeakMap<object, Set<ServerResponse>>();

/**
 * The last event of every stream the server ends: a client tells a server going away on purpose
 * (it reconnects after `retry`, to the restarted server or another one) from a cut connection.
 */
export const SHUTDOWN_EVENT = 'shutdown';

/** How long a stream's closing event may take to reach a slow client before its connection is cut. */
const END_GRACE_MS = 1000;

/**
 * Ends every event stream open on `server` with a `shutdown` event and closes its connection once
 * that is written. Streams never end by themselves, and a keep-alive client would otherwise hold
 * the server open: `buildApi` calls this before the server closes, so that shutdown does not wait
 * for clients.
 */
export function endEventStreams(server: Server | object): number {
  const open = openStreams.get(server);
  if (!open) return 0;
  const n = open.size;
  const last = `event: ${SHUTDOWN_EVENT}\ndata: ${JSON.stringify({ reason: 'the server is stopping' })}\n\n`;
  for (const res of open) {
    // Written even to a client that is backed up: end() flushes it after what is queued.
    res.end(last);
    const socket = res.socket;
    socket?.destroySoon();
    // A client that stopped reading never lets that flush: its connection is cut after a grace
    // period, so that it cannot hold a stopping server open.
    if (socket) setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }
  open.clear();
  return n;
}

/**
 * Takes over a fastify reply as a server-sent-events stream: the headers proxies must not buffer
 * behind, a first comment (so the client sees the stream open at once), and a keep-alive comment
 * every `keepAliveMs` unless the client is backed up anyway. Returns the raw response and a
 * function that stops the keep-alive; the caller ends its subscriptions on the response's close.
 * The stream is ended when the server closes (`endEventStreams`).
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
  const server = reply.server.server;
  let open = openStreams.get(server);
  if (!open) openStreams.set(server, (open = new Set()));
  open.add(res);
  res.on('close', () => open.delete(res));
  return { res, stopKeepAlive: () => clearInterval(keepAlive) };
}
