import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does to one request. */
export type Fault =
  | 'pass'
  | 'rate-limit' // 429 with Retry-After
  | 'server-500'
  | 'server-503'
  | 'reset' // connection destroyed without a response
  | 'hang' // never answers (the client's timeout fires)
  | 'truncated' // the upstream's JSON body cut in half
  | 'missing-fields'; // a 200 whose body lacks `choices`

export interface FaultProxy {
  url: string;
  /** Requests seen, and how many got each fault. */
  counts: Record<Fault, number>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of an OpenAI-compatible server that injects the fault `decide` picks for
 * each request (numbered from 0). `retryAfter` is the Retry-After header value sent with 429s.
 */
export async function startFaultProxy(
  upstream: string,
  decide: (n: number) => Fault,
  retryAfter = '0',
): Promise<FaultProxy> {
  const target = new URL(upstream);
  const counts: Record<Fault, number> = {
    pass: 0, 'rate-limit': 0, 'server-500': 0, 'server-503': 0, reset: 0, hang: 0, truncated: 0, 'missing-fields': 0,
  };
  const sockets = new Set<Socket>();
  let n = 0;

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const out = httpRequest({
        host: target.hostname, port: target.port, method: req.method, path: req.url,
        headers: { ...req.headers, host: target.host },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks) }));
      });
      out.on('error', reject);
      out.end(body);
    });

  const reply = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const fault = decide(n++);
      counts[fault]++;
      const error = (message: string) => JSON.stringify({ error: { message, type: 'server_error' } });
      switch (fault) {
        case 'rate-limit':
          return reply(res, 429, error('rate limited'), { 'retry-after': retryAfter });
        case 'server-500':
          return reply(res, 500, error('internal error'));
        case 'server-503':
          return reply(res, 503, error('overloaded'));
        case 'reset':
          return req.socket.destroy();
        case 'hang':
          return;
      }
      const upstreamReply = await forward(req, Buffer.concat(chunks));
      if (fault === 'truncated') return reply(res, 200, upstreamReply.body.subarray(0, upstreamReply.body.length >> 1));
      if (fault === 'missing-fields') {
        const { choices: _dropped, ...rest } = JSON.parse(upstreamReply.body.toString()) as Record<string, unknown>;
        return reply(res, 200, JSON.stringify(rest));
      }
      reply(res, upstreamReply.status, upstreamReply.body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    counts,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
