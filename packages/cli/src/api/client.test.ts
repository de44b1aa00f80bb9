import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ApiClient, ServerApiError } from './client.ts';

let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1/installs/known') {
      res.statusCode = 404;
      res.end(
        JSON.stringify({ error: { code: 'ALGA_NOT_FOUND', message: 'Not installed.', details: { id: 'known' } } }),
      );
    } else if (req.url === '/api/v1/installs/newer') {
      // A newer server may answer with a code this CLI does not know yet.
      res.statusCode = 409;
      res.end(JSON.stringify({ error: { code: 'ALGA_SOMETHING_NEW', message: 'Try the new flag.' } }));
    } else {
      res.statusCode = 502;
      res.end('<html>bad gateway</html>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test("a failed call is a ServerApiError with the server's status, code, message and details", async () => {
  const client = new ApiClient({ serverUrl: base, apiKey: 'k' });
  await assert.rejects(client.getInstall('known'), (error: unknown) => {
    assert.ok(error instanceof ServerApiError);
    assert.equal(error.name, 'ServerApiError');
    assert.deepEqual(
      [error.status, error.code, error.message, error.details],
      [404, 'ALGA_NOT_FOUND', 'Not installed.', { id: 'known' }],
    );
    return true;
  });
  await assert.rejects(client.getInstall('newer'), {
    status: 409,
    code: 'ALGA_SOMETHING_NEW',
    message: 'Try the new flag.',
  });
  await assert.rejects(client.getInstall('other'), {
    status: 502,
    code: undefined,
    message: 'GET /api/v1/installs/other failed with HTTP 502',
  });
});

test('an unreachable server is a ServerApiError with status 0 that says so', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(new ApiClient({ serverUrl: url, apiKey: 'k' }).getInstall('x'), {
    name: 'ServerApiError',
    status: 0,
    message: new RegExp(`^Cannot reach the server at ${url.replace(/\./g, '\\.')} .*Is it running\\?$`),
  });
});
