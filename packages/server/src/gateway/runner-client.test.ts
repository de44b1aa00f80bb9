/** The gateway's runner client against stand-in runners on 127.0.0.1. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AlgaError, type ExecuteRequest } from '@alga-psa/protocol';
import {
  ensureServiceKeys,
  loadSigner,
  loadVerifier,
  type ServiceTokenSigner,
  type ServiceTokenVerifier,
} from '@alga-psa/service-auth';
import { NO_DEADLINE_MS } from '../testing/wait.ts';
import { parseRunnerUrls, RunnerClient } from './runner-client.ts';

type Behaviour = 'ok' | 'die' | 'not-ready' | 'answer';

/** A stand-in runner: answers execute with its own name, /readyz per `behaviour`. */
async function fakeRunner(name: string) {
  const seen: Array<{ headers: IncomingHttpHeaders; body: ExecuteRequest }> = [];
  const state = { behaviour: 'ok' as Behaviour, answer: { status: 200, body: '' } };
  const server: Server = createServer((req, res) => {
    if (req.url === '/readyz') {
      res.writeHead(state.behaviour === 'not-ready' ? 503 : 200).end('{}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as ExecuteRequest });
      // A runner process dying mid-request: the socket closes with no answer.
      if (state.behaviour === 'die') return void req.socket.destroy();
      if (state.behaviour === 'answer') return void res.writeHead(state.answer.status).end(state.answer.body);
      const body = Buffer.from(name).toString('base64');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 200, headers: {}, body_b64: body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    state,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function request(method = 'GET', requestId = 'req-1'): ExecuteRequest {
  return {
    context: {
      request_id: requestId,
      tenant_id: 'tenant-a',
      extension_id: 'ext',
      install_id: 'install-a',
      version_id: 'v1',
      content_hash: `sha256:${'0'.repeat(64)}`,
    },
    config: {},
    providers: [],
    secret_envelope: null,
    http: { method, path: '/', query: '', headers: {}, body_b64: null },
  };
}

const answeredBy = async (client: RunnerClient, method = 'GET') =>
  Buffer.from((await client.execute(request(method))).body_b64 ?? '', 'base64').toString();

describe('runner client', () => {
  let dir: string;
  let signer: ServiceTokenSigner;
  let verifier: ServiceTokenVerifier;
  let a: Awaited<ReturnType<typeof fakeRunner>>;
  let b: Awaited<ReturnType<typeof fakeRunner>>;
  const clients: RunnerClient[] = [];
  const client = (runnerUrl: string, timeoutMs = 5_000) => {
    const created = new RunnerClient({ runnerUrl, timeoutMs, signer, healthIntervalMs: 60_000 });
    clients.push(created);
    return created;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alga-runner-client-'));
    const keys = await ensureServiceKeys(dir);
    signer = await loadSigner(keys.privateKeyFile);
    verifier = await loadVerifier(keys.publicKeyFile);
    a = await fakeRunner('a');
    b = await fakeRunner('b');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('sends an alga-runner token and an alga-server token bound to the tenant and install', async () => {
    a.seen.length = 0;
    const runnerClient = client(a.url, 10_000);
    await runnerClient.execute(request());
    const { headers, body } = a.seen[0]!;
    const bearer = /^Bearer (.+)$/.exec(String(headers.authorization))?.[1];
    const runnerClaims = await verifier.verify(bearer, { audience: 'alga-runner', scope: 'execute' });
    assert.deepEqual([runnerClaims.tenantId, runnerClaims.installId], ['tenant-a', 'install-a']);
    const serverClaims = await verifier.verify(body.server_token, { audience: 'alga-server' });
    assert.deepEqual(serverClaims.scope, ['storage', 'logs']);
    assert.deepEqual([serverClaims.tenantId, serverClaims.installId], ['tenant-a', 'install-a']);
    const { exp, iat } = JSON.parse(Buffer.from(bearer!.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      number
    >;
    assert.ok(exp! - iat! >= 10 && exp! - iat! <= 60, `token lifetime ${exp! - iat!} s`);
    // The server token outlives the wait for the response (10 s) by the log shipping after it.
    const server = JSON.parse(Buffer.from(body.server_token!.split('.')[1]!, 'base64url').toString()) as {
      exp: number;
      iat: number;
    };
    assert.ok(server.exp - server.iat >= 30, `server token lifetime ${server.exp - server.iat} s`);
    await assert.rejects(verifier.verify(body.server_token, { audience: 'alga-runner' }), /not for alga-runner/);
    // The same install's next request reuses the token (one signature per binding and
    // lifetime); another install never gets it.
    await runnerClient.execute(request());
    assert.equal(a.seen[1]!.headers.authorization, headers.authorization);
    const other = request();
    other.context = { ...other.context, install_id: 'install-b' };
    await runnerClient.execute(other);
    assert.notEqual(a.seen[2]!.headers.authorization, headers.authorization);
  });

  test('spreads requests round-robin over the runners', async () => {
    const c = client(`${a.url}, ${b.url}`);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await answeredBy(c));
    assert.deepEqual(answers, ['a', 'b', 'a', 'b']);
  });

  test('retries an idempotent request that could not connect once on another runner, and takes the dead one out', async () => {
    const dead = await closedPortUrl();
    const c = client(`${dead},${a.url}`);
    assert.equal(await answeredBy(c, 'PUT'), 'a');
    assert.deepEqual(
      c.status().map((s) => s.up),
      [false, true],
    );
    // Taken out: later requests go straight to the live runner.
    assert.equal(await answeredBy(c, 'POST'), 'a');
  });

  test('does not retry a POST that could not connect: 503 ALGA_RUNNER_UNAVAILABLE', async () => {
    const c = client(`${await closedPortUrl()},${a.url}`);
    await assert.rejects(
      c.execute(request('POST')),
      (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_RUNNER_UNAVAILABLE',
    );
  });

  test('answers 503 ALGA_RUNNER_UNAVAILABLE when no runner is up', async () => {
    const c = client(`${await closedPortUrl()},${await closedPortUrl()}`);
    await assert.rejects(
      c.execute(request('GET')),
      (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_RUNNER_UNAVAILABLE',
    );
    await assert.rejects(
      c.execute(request('GET')),
      (error: unknown) => error instanceof AlgaError && error.status === 503,
    );
  });

  test('ends a request whose runner dies mid-request with 502 at once and marks that runner down', async () => {
    b.state.behaviour = 'die';
    try {
      // A gateway deadline no test could wait for: the request ends because the runner died, or not at all.
      const c = client(`${b.url},${a.url}`, NO_DEADLINE_MS);
      await assert.rejects(
        c.execute(request('POST')),
        (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_EXECUTION_FAILED',
      );
      assert.equal(c.status()[0]?.up, false);
      assert.equal(await answeredBy(c), 'a', 'the gateway keeps answering from the other runner');
    } finally {
      b.state.behaviour = 'ok';
    }
  });

  test('takes a runner out when /readyz fails, and back in once it answers again', async () => {
    const c = client(`${a.url},${b.url}`);
    b.state.behaviour = 'not-ready';
    try {
      await c.probe();
      assert.deepEqual(
        c.status().map((s) => s.up),
        [true, false],
      );
      for (let i = 0; i < 3; i++) assert.equal(await answeredBy(c), 'a');
    } finally {
      b.state.behaviour = 'ok';
    }
    await c.probe();
    assert.deepEqual(
      c.status().map((s) => s.up),
      [true, true],
    );
  });

  test('a runner error keeps its code when it is a timeout, a failure or no free worker; anything else is a 502 naming it', async () => {
    const c = client(b.url);
    const error = (code: string, message: string) =>
      JSON.stringify({ error: { code, message, details: { inside: 'the runner' } } });
    const cases: [status: number, body: string, expected: Record<string, unknown>][] = [
      [
        504,
        error('ALGA_TIMEOUT', 'Guest exceeded 5000 ms.'),
        { code: 'ALGA_TIMEOUT', status: 504, details: undefined },
      ],
      [502, error('ALGA_MEMORY_LIMIT', 'Out of memory.'), { code: 'ALGA_MEMORY_LIMIT', message: 'Out of memory.' }],
      [502, error('ALGA_EXECUTION_FAILED', 'Trap.'), { code: 'ALGA_EXECUTION_FAILED', message: 'Trap.', status: 502 }],
      [503, error('ALGA_RUNNER_UNAVAILABLE', 'Busy.'), { code: 'ALGA_RUNNER_UNAVAILABLE', status: 503 }],
      [
        401,
        error('ALGA_UNAUTHENTICATED', 'Bad runner token.'),
        {
          code: 'ALGA_EXECUTION_FAILED',
          status: 502,
          message: 'Bad runner token.',
          details: { runnerStatus: 401, runnerCode: 'ALGA_UNAUTHENTICATED' },
        },
      ],
      [504, '<html>gateway timeout</html>', { code: 'ALGA_TIMEOUT', status: 504 }],
      [
        500,
        'not json',
        { code: 'ALGA_EXECUTION_FAILED', message: 'The runner answered HTTP 500.', details: { runnerStatus: 500 } },
      ],
    ];
    b.state.behaviour = 'answer';
    try {
      for (const [status, body, expected] of cases) {
        b.state.answer = { status, body };
        await assert.rejects(c.execute(request('POST')), (thrown: unknown) => {
          assert.ok(thrown instanceof AlgaError);
          for (const [field, value] of Object.entries(expected)) {
            assert.deepEqual(thrown[field as keyof AlgaError], value, `${status} ${body}: ${field}`);
          }
          return true;
        });
      }
    } finally {
      b.state.behaviour = 'ok';
    }
  });

  test('an answer over 16 MiB is refused as too large; a large one under it arrives whole', async () => {
    const c = client(b.url);
    b.state.behaviour = 'answer';
    try {
      const bigBody = Buffer.alloc(3 * 1024 * 1024, 'x').toString('base64');
      b.state.answer = { status: 200, body: JSON.stringify({ status: 200, headers: {}, body_b64: bigBody }) };
      assert.equal((await c.execute(request('POST'))).body_b64, bigBody, 'many chunks, joined in order');
      b.state.answer = { status: 200, body: 'x'.repeat(16 * 1024 * 1024 + 1) };
      await assert.rejects(c.execute(request('POST')), (thrown: unknown) => {
        assert.ok(thrown instanceof AlgaError);
        assert.equal(thrown.code, 'ALGA_EXECUTION_FAILED');
        assert.equal(thrown.message, 'The extension response is too large.');
        return true;
      });
      b.state.behaviour = 'ok';
      assert.equal(await answeredBy(c), 'b', 'the runner is still in use afterwards');
    } finally {
      b.state.behaviour = 'ok';
    }
  });

  test('parses ALGA_RUNNER_URL as a comma-separated list and refuses what is not an http(s) URL', () => {
    assert.deepEqual(
      parseRunnerUrls(' http://r1:8081 ,http://r2:8081,, http://r1:8081').map((u) => u.origin),
      ['http://r1:8081', 'http://r2:8081'],
    );
    assert.throws(() => parseRunnerUrls(''), /names no runner/);
    assert.throws(() => parseRunnerUrls('ftp://x'), /http or https/);
    assert.throws(() => parseRunnerUrls('not a url'), /not a URL/);
  });
});
