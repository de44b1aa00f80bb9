/**
 * A stand-in runner for gateway tests: records each ExecuteRequest and answers
 * 200 with a fixed guest response. Bodiless requests (the gateway's /readyz
 * probe, which fires whenever a test outlasts the probe interval) are answered
 * ready and not recorded.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecuteRequest } from '@alga-psa/protocol';

export async function startEchoRunner() {
  const received: { headers: IncomingHttpHeaders; body: ExecuteRequest }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (chunks.length === 0) {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
        return;
      }
      received.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 200, headers: { 'content-type': 'text/plain' }, body_b64: null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
