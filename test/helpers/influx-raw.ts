import http from 'node:http';

/** The adapter's own line-protocol formatting, so the ceiling writes the very same points. */
export { formatReading } from '../../adapters/influx/store.ts';

/**
 * The raw ceiling for the ingest benchmark: `lines` POSTed to `/write?db=…&precision=ns` in batches
 * of `batchSize` over keep-alive HTTP, `concurrency` batches in flight (1 by default), nothing else.
 * Rejects on any answer but 204.
 */
export async function rawLineProtocolWrite(
  url: string,
  db: string,
  lines: readonly string[],
  batchSize: number,
  concurrency = 1,
): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/write', url);
  target.search = new URLSearchParams({ db, precision: 'ns' }).toString();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < lines.length) {
      const body = lines.slice(next, next + batchSize).join('\n');
      next += batchSize;
      await post(target, agent, body);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
}

function post(target: URL, agent: http.Agent, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${text.trim()}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
