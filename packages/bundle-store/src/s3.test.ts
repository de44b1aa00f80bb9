import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  BundleIntegrityError,
  S3BundleStore,
  bundleStoreFromEnv,
  contentHashOf,
  DirectoryBundleStore,
} from './index.ts';

/**
 * A minimal S3-compatible endpoint: path-style GET/HEAD/PUT of objects kept
 * in memory. It checks that every request is SigV4-signed with our access key
 * and that the declared payload hash matches the body.
 */
function fakeS3() {
  const objects = new Map<string, Buffer>();
  const requests: { method: string; path: string; authorization: string }[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const authorization = req.headers.authorization ?? '';
    requests.push({ method: req.method!, path: req.url!, authorization });
    if (
      !/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-test-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/.test(
        authorization,
      )
    ) {
      res.writeHead(403).end('<Error><Code>AccessDenied</Code></Error>');
      return;
    }
    const declared = req.headers['x-amz-content-sha256'];
    if (req.method === 'PUT' && declared !== createHash('sha256').update(body).digest('hex')) {
      res.writeHead(400).end('<Error><Code>XAmzContentSHA256Mismatch</Code></Error>');
      return;
    }
    const key = req.url!;
    if (req.method === 'PUT') {
      objects.set(key, body);
      res.writeHead(200).end();
    } else if (objects.has(key)) {
      res.writeHead(200, { 'content-length': objects.get(key)!.length });
      res.end(req.method === 'HEAD' ? undefined : objects.get(key));
    } else {
      res.writeHead(404).end();
    }
  });
  return { server, objects, requests };
}

describe('S3BundleStore against an S3-compatible endpoint', () => {
  const s3 = fakeS3();
  let endpoint: string;
  let store: S3BundleStore;

  before(async () => {
    await new Promise<void>((resolve) => s3.server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(s3.server.address() as AddressInfo).port}`;
    store = new S3BundleStore({
      endpoint,
      bucket: 'alga-bundles',
      region: 'eu-test-1',
      accessKeyId: 'AKIDTEST',
      secretAccessKey: 'very-secret-key',
    });
  });
  after(() => s3.server.close());

  test('stores bytes under their hash with signed requests and reads them back verified', async () => {
    const bytes = Buffer.from('component bytes');
    const hash = await store.put(bytes);
    assert.equal(hash, contentHashOf(bytes));
    assert.ok(s3.objects.has(`/alga-bundles/bundles/sha256/${hash.slice(7)}/component.wasm`));
    assert.deepEqual(Buffer.from((await store.get(hash))!), bytes);
  });

  test('a second put of the same bytes does not upload again', async () => {
    const bytes = Buffer.from('same bytes');
    await store.put(bytes);
    const puts = () => s3.requests.filter((r) => r.method === 'PUT').length;
    const before = puts();
    await store.put(bytes);
    assert.equal(puts(), before);
  });

  test('an absent bundle is undefined and an altered one is refused', async () => {
    assert.equal(await store.get(contentHashOf(Buffer.from('never stored'))), undefined);
    const hash = await store.put(Buffer.from('original'));
    s3.objects.set(`/alga-bundles/bundles/sha256/${hash.slice(7)}/component.wasm`, Buffer.from('tampered'));
    await assert.rejects(store.get(hash), BundleIntegrityError);
  });

  test('wrong credentials fail with the status, never the secret key', async () => {
    const wrong = new S3BundleStore({
      endpoint,
      bucket: 'alga-bundles',
      region: 'eu-test-1',
      accessKeyId: 'OTHER',
      secretAccessKey: 'very-secret-key',
    });
    await assert.rejects(
      wrong.put(Buffer.from('x')),
      (error: Error) => /HTTP 403/.test(error.message) && !error.message.includes('very-secret-key'),
    );
    assert.ok(!inspect(wrong, { showHidden: true }).includes('very-secret-key'));
  });
});

test('bundleStoreFromEnv picks the directory store by default and lists every missing S3 setting', () => {
  assert.ok(bundleStoreFromEnv({}, '/tmp/alga-bundles') instanceof DirectoryBundleStore);
  assert.throws(
    () => bundleStoreFromEnv({ ALGA_BUNDLE_STORE: 's3', S3_BUCKET: 'b' }),
    /S3_ENDPOINT, S3_ACCESS_KEY_ID_FILE or AWS_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY_FILE or AWS_SECRET_ACCESS_KEY/,
  );
  assert.throws(() => bundleStoreFromEnv({ ALGA_BUNDLE_STORE: 'ftp' }), /must be "dir" or "s3"/);
  assert.ok(
    bundleStoreFromEnv({
      ALGA_BUNDLE_STORE: 's3',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_BUCKET: 'bundles',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
    }) instanceof S3BundleStore,
  );
});
