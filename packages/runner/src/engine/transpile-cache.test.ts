import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixtureHarness, executeRequest } from '../testing/harness.ts';
import { TranspileCache, TranspileCacheError } from './transpile-cache.ts';

const transpiled = (marker: string) => ({
  glue: `export function instantiate() { return ${JSON.stringify(marker)}; }\n`,
  wasm: { 'component.core.wasm': new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, marker.length]) },
});

describe('transpile cache', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'alga-transpile-cache-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('an entry put for some bytes is what a later process gets for the same bytes', async () => {
    const dir = path.join(root, 'roundtrip');
    const key = new TranspileCache(dir).keyFor(new Uint8Array([1, 2, 3]));
    await new TranspileCache(dir).put(key, transpiled('first'));
    const again = new TranspileCache(dir);
    assert.equal(again.keyFor(new Uint8Array([1, 2, 3])), key);
    assert.notEqual(again.keyFor(new Uint8Array([1, 2, 4])), key);
    assert.deepEqual(await again.get(key), transpiled('first'));
    assert.equal(await again.get(again.keyFor(new Uint8Array([9]))), undefined);
  });

  test('a rewritten variant comes back with what the rewrites found, under a key per memory limit, mode and metering', async () => {
    const cache = new TranspileCache(path.join(root, 'variants'));
    const base = cache.keyFor(new Uint8Array([4, 2]));
    const key = cache.variantKeyFor(base, { memoryMb: 128, instanceMode: 'reset', meter: true });
    const others = [
      cache.variantKeyFor(base, { memoryMb: 256, instanceMode: 'reset', meter: true }),
      cache.variantKeyFor(base, { memoryMb: 128, instanceMode: 'fresh', meter: true }),
      cache.variantKeyFor(base, { memoryMb: 128, instanceMode: 'reset', meter: false }),
      cache.variantKeyFor(cache.keyFor(new Uint8Array([4, 3])), { memoryMb: 128, instanceMode: 'reset', meter: true }),
    ];
    assert.equal(new Set([key, base, ...others]).size, 6);
    const variant = { wasm: transpiled('v').wasm, resettable: true, tablesWritable: false, metered: true };
    await cache.putVariant(key, variant);
    assert.deepEqual(await cache.getVariant(key), variant);
    for (const other of others) assert.equal(await cache.getVariant(other), undefined);
  });

  test('the directory is created for this user alone', async () => {
    const dir = path.join(root, 'created', 'cache');
    await new TranspileCache(dir).open();
    const { stat } = await import('node:fs/promises');
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  });

  test('a directory other users may write to is refused, saying how to fix it', async () => {
    const dir = path.join(root, 'shared');
    await mkdir(dir);
    await chmod(dir, 0o777);
    await assert.rejects(
      new TranspileCache(dir).open(),
      (error: unknown) =>
        error instanceof TranspileCacheError &&
        error.message.includes(`can be written by other users`) &&
        error.message.includes(`chmod 700 ${dir}`),
    );
  });

  test('a damaged entry is dropped and reads as a miss, never as code', async () => {
    const dir = path.join(root, 'damaged');
    const cache = new TranspileCache(dir);
    const key = cache.keyFor(new Uint8Array([7]));
    await cache.put(key, transpiled('intact'));
    const glue = path.join(dir, key, 'glue.js');
    await writeFile(glue, (await readFile(glue, 'utf8')).replace('intact', 'evil!!'));
    assert.equal(await cache.get(key), undefined);
    assert.deepEqual(await readdir(dir), [], 'the damaged entry is gone');

    await cache.put(key, transpiled('intact'));
    await writeFile(path.join(dir, key, 'component.core.wasm'), new Uint8Array([0, 97, 115, 109]));
    assert.equal(await cache.get(key), undefined, 'a truncated module is a miss too');
  });

  test('only the most recently used entries are kept', async () => {
    const dir = path.join(root, 'bounded');
    const cache = new TranspileCache(dir, { maxEntries: 2 });
    const keys = [1, 2, 3].map((n) => cache.keyFor(new Uint8Array([n])));
    await cache.put(keys[0]!, transpiled('a'));
    await cache.put(keys[1]!, transpiled('b'));
    // The first is older on disk but read since: the second is the least recently used.
    const past = new Date(Date.now() - 60_000);
    await utimes(path.join(dir, keys[0]!), past, past);
    await utimes(path.join(dir, keys[1]!), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    assert.ok(await cache.get(keys[0]!));
    await cache.put(keys[2]!, transpiled('c'));
    assert.deepEqual((await readdir(dir)).sort(), [keys[0]!, keys[2]!].sort());
  });

  test('a runner with RUNNER_TRANSPILE_CACHE_DIR keeps the transpiled guest, and the next runner loads it from there', async () => {
    const dir = path.join(root, 'runner');
    const first = await fixtureHarness({ transpileCacheDir: dir });
    let bytes: Uint8Array;
    try {
      const response = await first.h.execute(executeRequest(first.hash));
      assert.equal(response.statusCode, 200, response.body);
      bytes = (await first.h.bundleStore.get(first.hash))!;
    } finally {
      await first.h.close();
    }
    const cache = new TranspileCache(dir);
    const key = cache.keyFor(bytes);
    const kept = await cache.get(key);
    assert.ok(kept, 'the first runner left its transpile behind');
    assert.equal((await readdir(dir)).length, 2, 'and its rewritten variant');

    // Proof the next runner reads it: an entry whose glue fails to instantiate fails its request.
    await rm(path.join(dir, key), { recursive: true });
    await cache.put(key, {
      glue: 'export function instantiate() { throw new Error("from the cache"); }\n',
      wasm: kept.wasm,
    });
    const second = await fixtureHarness({ transpileCacheDir: dir });
    try {
      const response = await second.h.execute(executeRequest(second.hash));
      assert.equal(response.statusCode, 502, response.body);
      assert.match(response.body, /ALGA_EXECUTION_FAILED/);
    } finally {
      await second.h.close();
    }
  });
});
