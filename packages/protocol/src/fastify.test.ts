// The shared error plugin: schema failures become ALGA_VALIDATION_FAILED with
// the same wording as ever for a few problems, and a bounded answer for many.
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { algaClientErrorHandler, algaErrors, MAX_VALIDATION_DETAILS } from './fastify.ts';

describe('algaErrors: schema validation failures', () => {
  let app: FastifyInstance;
  before(async () => {
    // Ajv configured as the server does: no coercion, and every wrong item is one more problem.
    app = Fastify({ logger: false, ajv: { customOptions: { allErrors: true, coerceTypes: false } } });
    await app.register(algaErrors);
    app.post(
      '/items',
      {
        schema: {
          body: {
            type: 'object',
            required: ['items'],
            properties: {
              items: { type: 'array', maxItems: 64, items: { type: 'string' } },
              tags: { type: 'object', additionalProperties: { type: 'string' } },
            },
          },
        },
      },
      async () => ({ ok: true }),
    );
    await app.ready();
  });
  after(() => app.close());

  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/items', payload: payload as object });

  it('lists a few problems in full, worded as before', async () => {
    const response = await post({ items: ['a', 1, 2] });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json().error, {
      code: 'ALGA_VALIDATION_FAILED',
      message: 'The body is invalid: body.items.1 must be string; body.items.2 must be string.',
      requestId: response.json().error.requestId,
      details: [
        { field: 'body.items.1', message: 'must be string' },
        { field: 'body.items.2', message: 'must be string' },
      ],
    });
  });

  it('answers a body with 100,000 wrong items with the first problems and a count of the rest', async () => {
    const count = 100_000;
    const response = await post({ items: Array.from({ length: count }, (_, i) => i) });
    assert.equal(response.statusCode, 400);
    assert.ok(response.body.length < 4 * 1024, `${response.body.length} bytes`);
    const { message, details } = response.json().error;
    // maxItems and one type error per item.
    const problems = count + 1;
    assert.equal(details.length, MAX_VALIDATION_DETAILS + 1);
    assert.equal(details[0].field.startsWith('body.items'), true);
    assert.deepEqual(details.at(-1), {
      field: 'body',
      message: `…and ${problems - MAX_VALIDATION_DETAILS} more problems not listed`,
      omitted: problems - MAX_VALIDATION_DETAILS,
    });
    assert.match(message, new RegExp(`; …and ${problems - MAX_VALIDATION_DETAILS} more problems not listed\\.$`));
  });

  it('clips a field name that quotes a huge key of the client', async () => {
    const key = 'k'.repeat(50_000);
    const response = await post({ items: [], tags: { [key]: 1 } });
    assert.equal(response.statusCode, 400);
    assert.ok(response.body.length < 1024, `${response.body.length} bytes`);
    const [detail] = response.json().error.details;
    assert.match(detail.field, /^body\.tags\.k+…$/);
  });
});

describe("algaClientErrorHandler: requests Node's parser refuses", () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    app = Fastify({ logger: false, clientErrorHandler: algaClientErrorHandler });
    app.get('/', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  /** Sends raw bytes and reads until the server closes the connection. */
  const raw = async (request: string): Promise<{ status: number; body: unknown }> => {
    const socket = connect(port, '127.0.0.1');
    socket.end(request);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const [head, body = ''] = text.split('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)?.[1]), body: JSON.parse(body) };
  };

  it('an unknown method is a 400 with the registry body', async () => {
    const answer = await raw('FOO / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, { error: { code: 'ALGA_BAD_REQUEST', message: 'The request is malformed.' } });
  });

  it('headers past the limit are a 431 ALGA_HEADERS_TOO_LARGE', async () => {
    const answer = await raw(`GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(32 * 1024)}\r\n\r\n`);
    assert.equal(answer.status, 431);
    assert.equal((answer.body as { error: { code: string } }).error.code, 'ALGA_HEADERS_TOO_LARGE');
  });
});
