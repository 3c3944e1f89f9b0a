import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/**
 * A server-sent-events client for tests and the soak: counts the events it gets by name, keeps the
 * last few, and says how the stream ended (the server's `end` or a broken connection).
 */
export interface SseClient {
  /** Events received, by event name (`message` when unnamed). */
  counts: Map<string, number>;
  /** The last events received, newest last (up to 20). */
  last: { event: string; data: string }[];
  /** Resolves with the response's status once the headers are in. */
  opened: Promise<number>;
  /** Resolves when the stream is over: `end` (the server ended it) or `error` (cut). */
  ended: Promise<'end' | 'error'>;
  close(): void;
}

export function openSse(url: string, token: string): SseClient {
  const counts = new Map<string, number>();
  const last: { event: string; data: string }[] = [];
  let req: ClientRequest;
  let settleEnd: (how: 'end' | 'error') => void = () => undefined;
  const ended = new Promise<'end' | 'error'>((resolve) => (settleEnd = resolve));
  const opened = new Promise<number>((resolve, reject) => {
    req = request(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
    req.on('response', (res: IncomingMessage) => {
      resolve(res.statusCode ?? 0);
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          // A block of comments only (`: keep-alive`) is no event.
          if (data.length === 0) continue;
          counts.set(event, (counts.get(event) ?? 0) + 1);
          last.push({ event, data: data.join('\n') });
          if (last.length > 20) last.shift();
        }
      });
      res.on('end', () => settleEnd('end'));
      res.on('error', () => settleEnd('error'));
      res.on('close', () => settleEnd(res.complete ? 'end' : 'error'));
    });
    req.on('error', (err) => {
      reject(err);
      settleEnd('error');
    });
    req.end();
  });
  opened.catch(() => undefined);
  return { counts, last, opened, ended, close: () => req.destroy() };
}
