/**
 * Reads an undici response body into one buffer, refusing more than `limit`
 * bytes: by its Content-Length before reading, then as it streams in.
 * Shared by every outbound call the runner makes (guest HTTP, the ui-proxy
 * routes, the server's runner API).
 */
import type { Dispatcher } from 'undici';

export class ResponseTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`The response body exceeded ${limit} bytes.`);
    this.name = 'ResponseTooLargeError';
    this.limit = limit;
  }
}

export async function readCapped(response: Dispatcher.ResponseData, limit: number): Promise<Buffer> {
  // Errors while reading surface through the iterator below; this keeps a
  // stream destroyed early (cap reached) from raising an unhandled 'error'.
  response.body.on('error', () => {});
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw new ResponseTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > limit) {
      response.body.destroy();
      throw new ResponseTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  // A fresh, exactly sized copy, never a view into Node's shared pool (`Buffer.concat` may
  // return one): a view would carry the whole pool with it when it is posted to a worker.
  const body = Buffer.alloc(total);
  let offset = 0;
  for (const chunk of chunks) offset += chunk.copy(body, offset);
  return body;
}
