/** HTTP plumbing of the OpenAI-compatible server: errors as OpenAI sends them, bounded JSON bodies, SSE. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the server refuses (4xx) or cannot serve (5xx), answered as an OpenAI-style error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly options: { code?: string; param?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

/** OpenAI's error types by status. */
function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return status < 500 ? 'invalid_request_error' : 'server_error';
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  response.end(text);
}

/** `{ error: { message, type, param, code } }` with the error's status (and headers such as Retry-After). */
export function sendError(response: ServerResponse, error: HttpError): void {
  if (response.headersSent) {
    response.destroy(); // a stream already begun cannot change its status: cut it so the client sees a failure
    return;
  }
  const { code = null, param = null, headers = {} } = error.options;
  sendJson(response, error.status, { error: { message: error.message, type: errorType(error.status), param, code } }, headers);
}

/**
 * The request body parsed as JSON. A body over `maxBytes` is refused with 413 once it has been read to its end: the
 * rest is read and dropped (memory stays bounded; the body timeout bounds the time), so the client can read the
 * answer instead of seeing its upload reset.
 */
export function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('end', () => {
      if (size > maxBytes) {
        return reject(new HttpError(413, `request body is over this server's limit of ${maxBytes} bytes (limit maxBodyBytes)`, { code: 'body_too_large' }));
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new HttpError(400, `request body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

/** Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then `data: [DONE]\n\n`. */
export class EventStream {
  constructor(private readonly response: ServerResponse) {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  }

  send(chunk: unknown): void {
    this.response.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  done(): void {
    this.response.end('data: [DONE]\n\n');
  }
}
