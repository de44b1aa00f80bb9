/**
 * Reset-in-place: an instance restored after a request is indistinguishable
 * from a fresh one to the guest. Proved three ways: on hand-written modules
 * (internal globals, memory, tables), byte for byte on a real component
 * in-process, and end to end through the engine's workers, comparing the
 * guest's own view in `reset` mode with `fresh` mode.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parse } from '@bytecodealliance/jco';
import { buildExtension } from '@alga-psa/cli';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import type { ExecuteRequest, ExecuteResponse } from '@alga-psa/protocol';
import { LocalKeyring } from '@alga-psa/transit';
import { DIRTY_EXPORT, exposeResetState, RESET_EXPORT_PREFIX } from '@alga-psa/wasm-rewrite';
import { createDispatcher, createLocalAnswerer, createScope, hostPlan } from '../host-calls/index.ts';
import { createRequestProviders } from '../providers/index.ts';
import { buildFixture } from '../testing/build-fixture.ts';
import { bodyOf, executeRequest, INSTALL, TENANT } from '../testing/harness.ts';
import { testProviders } from '../testing/providers.ts';
import { NO_DEADLINE_MS } from '../testing/wait.ts';
import type { WitExecuteRequest, WitExecuteResponse } from './convert.ts';
import { Engine, type InstanceMode } from './index.ts';
import { importKeys } from './jco-glue.ts';
import { compileComponent } from './loader.ts';
import { InstanceRecorder, ResetSnapshot } from './reset.ts';
import { createWasiHost } from '../wasi/index.ts';

const logger = pino({ level: 'silent' });

async function wat(text: string): Promise<WebAssembly.Module> {
  const bytes = await parse(text);
  const { module } = exposeResetState(bytes);
  return new WebAssembly.Module(module as Uint8Array<ArrayBuffer>);
}

function instantiateRecorded(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
  const recorder = new InstanceRecorder();
  const instance = recorder.instantiateCore(module, imports);
  return { recorder, exports: instance.exports as Record<string, unknown> };
}

describe('exposeResetState (load-time module rewrite)', () => {
  it('exports internal mutable globals, memories and tables under reserved names, counting imported ones', async () => {
    const bytes = await parse(`(module
      (import "env" "g0" (global i32))
      (import "env" "t0" (table 1 funcref))
      (global $fixed i32 (i32.const 7))
      (global $sp (mut i32) (i32.const 1024))
      (global $wide (mut i64) (i64.const -1))
      (memory 1)
      (table 2 funcref)
      (func (export "sp") (result i32) (global.get $sp)))`);
    const { module, exports } = exposeResetState(bytes);
    // Imported globals come first in the index space: 0 is env.g0, 1 the immutable one.
    assert.deepEqual(exports, {
      memories: [`${RESET_EXPORT_PREFIX}memory:0`],
      globals: [`${RESET_EXPORT_PREFIX}global:2`, `${RESET_EXPORT_PREFIX}global:3`],
      tables: [`${RESET_EXPORT_PREFIX}table:1`],
    });
    const compiled = new WebAssembly.Module(module as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(compiled, {
      env: {
        g0: new WebAssembly.Global({ value: 'i32' }, 1),
        t0: new WebAssembly.Table({ element: 'anyfunc', initial: 1 }),
      },
    });
    const sp = instance.exports[`${RESET_EXPORT_PREFIX}global:2`] as WebAssembly.Global;
    assert.equal(sp.value, 1024);
    assert.equal((instance.exports[`${RESET_EXPORT_PREFIX}global:3`] as WebAssembly.Global).value, -1n);
    sp.value = 2048;
    assert.equal((instance.exports.sp as () => number)(), 2048, 'the export is the global the code uses');
  });

  it('leaves a module without defined state unchanged and refuses what JS cannot restore', async () => {
    const plain = await parse('(module (func (export "f")))');
    assert.equal(exposeResetState(plain).module, plain);
    const v128 = await parse('(module (global (mut v128) (v128.const i64x2 0 0)))');
    assert.throws(() => exposeResetState(v128), RangeError);
  });
});

describe('ResetSnapshot on hand-written modules', () => {
  const source = `(module
    (global $g (mut i32) (i32.const 5))
    (memory 2)
    (data (i32.const 70000) "snapshot")
    (table $t 2 funcref)
    (elem (i32.const 0) $a $b)
    (func $a (result i32) (i32.const 1))
    (func $b (result i32) (i32.const 2))
    (type $ret (func (result i32)))
    (func (export "dirty")
      (global.set $g (i32.add (global.get $g) (i32.const 1)))
      (i32.store (i32.const 70000) (i32.const 0x41414141))
      (table.set $t (i32.const 0) (ref.func $b)))
    (func (export "g") (result i32) (global.get $g))
    (func (export "read") (result i32) (i32.load (i32.const 70000)))
    (func (export "slot0") (result i32) (call_indirect (type $ret) (i32.const 0)))
    (func (export "grow") (drop (memory.grow (i32.const 1))))
    (func (export "growTable") (drop (table.grow $t (ref.null func) (i32.const 1)))))`;

  it('puts internal globals, dirty memory pages and table entries back to their post-instantiation values', async () => {
    const module = await wat(source);
    const { recorder, exports } = instantiateRecorded(module);
    const call = (name: string) => (exports[name] as () => number)();
    const before = [call('g'), call('read'), call('slot0')];
    const snapshot = ResetSnapshot.capture(recorder, () => true);
    call('dirty');
    assert.notDeepEqual([call('g'), call('read'), call('slot0')], before);
    const result = snapshot.restore();
    assert.deepEqual(result, { dirtyBlocks: 4 }, 'one 4 KiB page compared and copied back');
    assert.deepEqual([call('g'), call('read'), call('slot0')], before);
    assert.deepEqual(snapshot.restore(), { dirtyBlocks: 0 }, 'a clean instance needs no copy');
  });

  it('reports an instance whose memory or table grew for discarding', async () => {
    const module = await wat(source);
    const grown = instantiateRecorded(module);
    const memorySnapshot = ResetSnapshot.capture(grown.recorder, () => true);
    (grown.exports.grow as () => void)();
    assert.equal(memorySnapshot.restore().discard, 'memory-grew');

    const tabled = instantiateRecorded(module);
    const tableSnapshot = ResetSnapshot.capture(tabled.recorder, () => true);
    (tabled.exports.growTable as () => void)();
    assert.equal(tableSnapshot.restore().discard, 'table-changed');
  });

  it('refuses to snapshot a module that was not rewritten', async () => {
    const { recorder } = instantiateRecorded(new WebAssembly.Module((await parse(source)) as Uint8Array<ArrayBuffer>));
    assert.throws(() => ResetSnapshot.capture(recorder, () => false), /not rewritten/);
  });
});

/**
 * A raw guest (no SDK) whose answers expose every kind of state a request
 * could leave behind: module variables, globals and prototypes, the heap.
 */
const RESET_GUEST = String.raw`
import { getContext } from 'alga:extension/context@0.3.0';
import { get as getSecret } from 'alga:extension/secrets@0.3.0';
import { get as getConfig, getAll as getAllConfig } from 'alga:extension/config@0.3.0';
import { fetch } from 'alga:extension/http@0.3.0';
import { get as getEntry, listPage } from 'alga:extension/storage@0.3.0';
import { getRandomBytes } from 'alga:extension/random@0.3.0';
import { getUser } from 'alga:extension/user@0.3.0';
import { callRoute } from 'alga:extension/ui-proxy@0.3.0';
import { logInfo } from 'alga:extension/logging@0.3.0';
let counter = 0;
const kept = [];
const stringify = JSON.stringify;

function json(value) {
  return { status: 200, headers: [], body: new TextEncoder().encode(stringify(value)) };
}

// Exported, but the next handler call runs this guest's own code (counter and
// all) and answers 200: the runner must discard that instance, not snapshot it.
export function warmUp() {}

export async function handler(req) {
  counter += 1;
  const [path, query = ''] = req.http.url.split('?');
  const params = Object.fromEntries(query.split('&').filter(Boolean).map((kv) => kv.split('=')));
  switch (path) {
    case '/state': {
      const seen = {
        counter,
        kept: kept.length,
        global: globalThis.__leak,
        proto: ({}).polluted,
        json: JSON.stringify({ a: 1 }),
        install: getContext().installId,
      };
      globalThis.__leak = getContext().installId;
      Object.prototype.polluted = 'yes';
      JSON.stringify = () => 'hijacked';
      kept.push(new Array(1000).fill(counter));
      return json(seen);
    }
    case '/memory': {
      // Dirties the heap with a request-specific pattern, then reports what
      // fresh allocations and the allocator's state look like.
      const fill = Number(params.fill ?? 171);
      const big = new Uint8Array(Number(params.kb ?? 256) * 1024).fill(fill);
      let sum = 0;
      for (let i = 0; i < big.length; i += 64) sum = (sum + big[i]) | 0;
      const fresh = new Uint8Array(65536);
      let nonZero = 0;
      for (const byte of fresh) if (byte !== 0) nonZero++;
      const strings = [];
      for (let i = 0; i < 2000; i++) strings.push('s' + i * fill);
      kept.push(big);
      return json({ counter, sum, nonZero, strings: strings.join('').length, kept: kept.length });
    }
    case '/clock': {
      // The WASI clocks (through the preview1 adapter too) and a timer the guest awaits.
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, Number(params.ms ?? 2)));
      return json({ counter, wall: Date.now() > 0, date: new Date().toISOString().length, waited: performance.now() >= started });
    }
    case '/grow': {
      const hoard = [];
      for (let i = 0; i < 24; i++) hoard.push(new Uint8Array(1 << 20).fill(i));
      kept.push(hoard);
      return json({ counter, grown: hoard.length });
    }
    case '/host': {
      // Every import whose result the host writes into guest memory (strings,
      // lists, records, options, results), for the byte-identity check.
      const secret = getSecret('api_token');
      const response = fetch({
        method: 'POST',
        url: 'https://api.example.test/x',
        headers: [{ name: 'a', value: 'b' }],
        body: new Uint8Array([1, 2, 3]),
      });
      const entry = getEntry('ns', 'k');
      const page = listPage('ns', undefined);
      const proxied = callRoute('/route', new Uint8Array([4]));
      logInfo('host calls ' + secret.length);
      return json({
        counter,
        secret: secret.length,
        greeting: getConfig('greeting'),
        all: getAllConfig().length,
        status: response.status,
        headers: response.headers.length,
        body: response.body.length,
        entry: entry.value.length,
        entries: page.entries.length,
        next: page.nextCursor,
        random: getRandomBytes(32).length,
        user: getUser().userId,
        proxied: proxied.length,
      });
    }
    case '/throw':
      throw new Error('guest failure');
    case '/loop':
      while (true) {}
    default:
      return json({ counter });
  }
}
`;

interface EngineHarness {
  engine: Engine;
  run(request: ExecuteRequest): Promise<ExecuteResponse>;
  close(): Promise<void>;
}

async function engineHarness(mode: InstanceMode, components: Uint8Array[], workers = 1) {
  const dir = path.join(tmpdir(), `alga-reset-test-${process.pid}-${mode}-${Math.random().toString(36).slice(2)}`);
  const bundleStore = new DirectoryBundleStore(path.join(dir, 'bundles'));
  const keyring = await LocalKeyring.open(path.join(dir, 'transit.key'), { create: true });
  const engine = new Engine({
    bundleStore,
    providers: testProviders({ secretCacheTtlMs: 1000, secretCacheMaxEntries: 10 }, { decrypter: keyring }),
    workers,
    queueLimit: 256,
    defaultTimeoutMs: NO_DEADLINE_MS,
    maxTimeoutMs: NO_DEADLINE_MS,
    defaultMemoryMb: 128,
    maxMemoryMb: 512,
    logger,
    instanceMode: mode,
  });
  const hashes: string[] = [];
  for (const component of components) hashes.push(await bundleStore.put(component));
  const harness: EngineHarness = {
    engine,
    run: (request) => engine.execute(request, logger),
    close: () => engine.close(),
  };
  return { ...harness, hashes };
}

const state = (hash: string, install = INSTALL) =>
  executeRequest(hash, {
    path: '/state',
    context: { ...executeRequest(hash).context, install_id: install },
  });

describe('reset-in-place on a real component', () => {
  let component: Uint8Array;
  let reset: Awaited<ReturnType<typeof engineHarness>>;
  let fresh: Awaited<ReturnType<typeof engineHarness>>;

  before(async () => {
    component = await buildFixture(RESET_GUEST, 'runner-with-warm-up');
    reset = await engineHarness('reset', [component]);
    fresh = await engineHarness('fresh', [component]);
  });
  after(async () => {
    await reset?.close();
    await fresh?.close();
  });

  it('leaves memory, globals and tables byte-identical to a fresh instance after each restore (in-process)', async () => {
    const loaded = await compileComponent('sha256:reset-test', component, 128, 'reset');
    assert.equal(loaded.resettable, true);
    const glue = (await import(`data:text/javascript;base64,${Buffer.from(loaded.glue).toString('base64')}`)) as {
      instantiate(
        get: (p: string) => WebAssembly.Module,
        imports: object,
        core: InstanceRecorder['instantiateCore'],
      ): { handler(r: WitExecuteRequest): WitExecuteResponse };
    };
    // Every import of the world (the glue checks them all), and the ambient WASI as the guest host gives it.
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const wasi = createWasiHost({ wait: (ms) => void Atomics.wait(sleeper, 0, 0, ms), stderr: () => {} });
    const imports = { ...wasi.imports } as Record<string, Record<string, (...args: never[]) => unknown>>;
    const key = (iface: string) => importKeys(iface)[0]!;
    for (const { iface, functions } of hostPlan(testProviders())) {
      imports[key(iface)] = Object.fromEntries(
        functions.map((fn) => [fn, () => assert.fail(`unexpected ${iface}.${fn}`)]),
      );
    }
    imports[key('context')] = {
      getContext: () => ({ tenantId: TENANT, extensionId: 'e', installId: INSTALL, requestId: 'r', versionId: 'v' }),
    };
    // Results of every shape the world has, sized to span several pages.
    const blob = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * seed) & 0xff);
    const entry = (key: string) => ({ namespace: 'ns', key, value: blob(9000, key.length), revision: 3n });
    const headers = Array.from({ length: 40 }, (_, i) => ({ name: `x-header-${i}`, value: 'v'.repeat(200) }));
    imports[key('secrets')] = {
      get: () => 's3cr3t-'.repeat(100),
      listKeys: () => ['api_token'],
      handle: () => `alga-secret-handle:${'h'.repeat(43)}`,
      egressHosts: () => [],
    };
    imports[key('config')] = {
      get: () => 'Hello',
      getAll: () => JSON.stringify({ greeting: 'Hello' }),
    };
    const answer = () => ({ status: 201, headers, body: blob(20_000, 7) });
    imports[key('http')] = { fetch: answer, fetchV2: answer };
    imports[key('storage')] = {
      ...imports[key('storage')],
      get: () => entry('k'),
      listPage: () => ({ entries: [entry('a'), entry('bb'), entry('ccc')], nextCursor: 'next-page' }),
    };
    imports[key('random')] = { getRandomBytes: (n: number) => blob(n, 13) };
    imports[key('user')] = {
      getUser: () => ({
        tenantId: TENANT,
        clientName: 'c',
        userId: 'user-1',
        userEmail: 'u@example.test',
        userName: 'U',
        userType: 'internal',
      }),
    };
    imports[key('ui-proxy')] = { callRoute: () => blob(5000, 3) };
    imports[key('logging')] = { logInfo: () => {}, logWarn: () => {}, logError: () => {} };
    const make = () => {
      const recorder = new InstanceRecorder();
      const root = glue.instantiate((p) => loaded.modules[p]!, imports, recorder.instantiateCore);
      return { recorder, root };
    };
    const stateOf = (recorder: InstanceRecorder) =>
      recorder.instances.flatMap(({ instance }) =>
        Object.entries(instance.exports)
          // The dirty-page map is bookkeeping outside the guest's memory, not guest state.
          .filter(([name]) => name.startsWith(RESET_EXPORT_PREFIX) && name !== DIRTY_EXPORT)
          .map(([name, value]) => {
            if (value instanceof WebAssembly.Memory) return [name, Buffer.from(new Uint8Array(value.buffer))];
            if (value instanceof WebAssembly.Global) return [name, value.value as unknown];
            const table = value as WebAssembly.Table;
            return [name, table.length];
          }),
      );
    const used = make();
    // As the worker does: the loader proved that no module writes a table,
    // and the restore puts back only the blocks the map marks.
    assert.equal(loaded.tablesWritable, false);
    const snapshot = ResetSnapshot.capture(used.recorder, () => true, { tablesWritable: loaded.tablesWritable });
    assert.equal(snapshot.tracked, true, 'the component tracks its writes');
    const request = (url: string): WitExecuteRequest => ({
      context: { requestId: 'r', tenantId: TENANT, extensionId: 'e', installId: INSTALL, versionId: 'v' },
      http: { method: 'GET', url, headers: [], body: undefined },
    });
    let dirty = 0;
    for (const url of [
      '/state',
      '/memory?fill=7',
      '/host',
      '/clock',
      '/state',
      '/memory?fill=200&kb=512',
      '/host',
      '/clock?ms=5',
    ]) {
      const response = used.root.handler(request(url));
      assert.equal(response.status, 200, url);
      const result = snapshot.restore();
      assert.equal(result.discard, undefined, `${url} could be restored`);
      dirty += result.dirtyBlocks;
      const pristine = make();
      assert.deepEqual(stateOf(used.recorder), stateOf(pristine.recorder), `after ${url}`);
    }
    assert.ok(dirty > 0, 'the requests dirtied blocks that were put back');
  });

  it('module state: the counter is 1 and nothing is kept, on every request', async () => {
    for (let i = 0; i < 5; i++) {
      const body = bodyOf(await reset.run(executeRequest(reset.hashes[0]!)));
      assert.equal(body.counter, 1);
    }
  });

  it('discards an instance whose warm-up ran the guest, and snapshots this component cold from then on', async () => {
    // The guest exports warm-up but answers it with its own code (counter 1, 200).
    // Had that instance been kept, every request would start at counter 1 and answer 2.
    assert.equal(bodyOf(await reset.run(executeRequest(reset.hashes[0]!))).counter, 1);
    const { warmedUp, warmUpRefused } = reset.engine.stats.instances;
    assert.equal(warmedUp, 0);
    assert.equal(warmUpRefused, 1, 'refused once; its later instances were not warmed up again');
  });

  it('globals: a guest that mutates globalThis, Object.prototype and JSON sees clean ones next time', async () => {
    // `global` and `proto` are undefined, so JSON leaves them out.
    const expected = { counter: 1, kept: 0, json: '{"a":1}', install: INSTALL };
    for (let i = 0; i < 4; i++) assert.deepEqual(bodyOf(await reset.run(state(reset.hashes[0]!))), expected);
  });

  it('memory contents: every answer equals a fresh instance answering the same request', async () => {
    const sequence = ['fill=1', 'fill=250&kb=1024', 'fill=3', 'fill=90&kb=64', 'fill=1'];
    for (const query of sequence) {
      const request = executeRequest(reset.hashes[0]!, { path: '/memory', query });
      const [a, b] = [bodyOf(await reset.run(request)), bodyOf(await fresh.run(request))];
      assert.deepEqual(a, b, query);
      assert.equal(a.counter, 1);
      assert.equal(a.nonZero, 0);
    }
    assert.ok(reset.engine.stats.instances.restored > 0, 'reset mode restored instances in place');
    assert.equal(fresh.engine.stats.instances.restored, 0, 'fresh mode never reuses an instance');
  });

  it('discards an instance whose memory grew, and serves the next request on a clean one', async () => {
    const grew = reset.engine.stats.instances['memory-grew'];
    const res = await reset.run(executeRequest(reset.hashes[0]!, { path: '/grow' }));
    assert.equal(res.status, 200);
    assert.deepEqual(bodyOf(await reset.run(state(reset.hashes[0]!))).counter, 1);
    assert.equal(reset.engine.stats.instances['memory-grew'], grew + 1);
  });

  it('discards an instance whose request trapped, and serves the next request on a clean one', async () => {
    const failed = reset.engine.stats.instances.failed;
    await assert.rejects(reset.run(executeRequest(reset.hashes[0]!, { path: '/throw' })), {
      code: 'ALGA_EXECUTION_FAILED',
    });
    const body = bodyOf(await reset.run(state(reset.hashes[0]!)));
    assert.equal(body.counter, 1);
    assert.equal(body.global, undefined);
    assert.equal(reset.engine.stats.instances.failed, failed + 1);
  });

  it('drops a timed-out instance with its worker, and the next request succeeds on a clean one', async () => {
    await assert.rejects(reset.run(executeRequest(reset.hashes[0]!, { path: '/loop', limits: { timeout_ms: 300 } })), {
      code: 'ALGA_TIMEOUT',
    });
    const body = bodyOf(await reset.run(state(reset.hashes[0]!)));
    assert.equal(body.counter, 1);
    assert.equal(body.global, undefined);
  });

  it('keeps installs isolated under concurrency: no request sees another install’s global', async () => {
    const concurrent = await engineHarness('reset', [component], 2);
    try {
      const hash = concurrent.hashes[0]!;
      const installs = ['install-a', 'install-b', 'install-c'];
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => concurrent.run(state(hash, installs[i % installs.length]))),
      );
      for (const [i, res] of results.entries()) {
        const body = bodyOf(res);
        assert.equal(body.counter, 1);
        assert.equal(body.global, undefined, 'a global set by an earlier request leaked');
        assert.equal(body.install, installs[i % installs.length]);
      }
      assert.ok(concurrent.engine.stats.instances.restored > 40);
    } finally {
      await concurrent.close();
    }
  });
});

describe('randomness after reset (SDK guest)', () => {
  let bytes: Uint8Array;

  before(async () => {
    // A stable folder so the CLI's own build cache applies across runs.
    const repo = fileURLToPath(new URL('../../../../', import.meta.url));
    const dir = path.join(repo, 'node_modules', '.cache', 'alga-reset-test', 'rng-guest');
    await mkdir(path.join(dir, 'src'), { recursive: true });
    await writeFile(
      path.join(dir, 'manifest.json'),
      JSON.stringify({
        name: 'reset-rng',
        publisher: 'alga-test',
        version: '0.1.0',
        description: 'Reports Math.random and crypto values.',
        runtime: 'wasm-js@1',
        capabilities: ['cap:context.read'],
        api: { endpoints: [{ method: 'GET', path: '/random' }] },
        allowedHosts: [],
        settings: [],
      }),
    );
    await writeFile(path.join(dir, 'package.json'), '{"name":"reset-rng","private":true,"type":"module"}\n');
    await writeFile(
      path.join(dir, 'src', 'index.ts'),
      `import { createHandler, json } from '@alga-psa/extension-runtime';
export const handler = createHandler(async () => {
  const values = new Uint32Array(4);
  crypto.getRandomValues(values);
  return json({ math: [Math.random(), Math.random()], crypto: Array.from(values), uuid: crypto.randomUUID() });
});
`,
    );
    const build = await buildExtension({ dir, typeCheck: false });
    bytes = new Uint8Array(await readFile(build.componentPath));
  });

  for (const mode of ['reset', 'fresh'] as const) {
    it(`gives Math.random and crypto new values on every request, never replayed (${mode} instances)`, async () => {
      const h = await engineHarness(mode, [bytes]);
      try {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) {
          const res = await h.run(executeRequest(h.hashes[0]!, { path: '/random', providers: ['cap:context.read'] }));
          const body = bodyOf(res) as { math: number[]; crypto: number[]; uuid: string };
          for (const value of [...body.math.map(String), ...body.crypto.map(String), body.uuid]) {
            assert.ok(!seen.has(value), `value ${value} was replayed`);
            seen.add(value);
          }
        }
        if (mode === 'reset') assert.ok(h.engine.stats.instances.restored >= 5);
      } finally {
        await h.close();
      }
    });
  }
});

describe('answers from the request alone', () => {
  it('are the same on any thread as on the main thread, grants included; nothing else is answered there', async () => {
    const local = createLocalAnswerer(createRequestProviders());
    const main = createDispatcher(testProviders());
    for (const granted of [['cap:context.read', 'cap:user.read'], []]) {
      const request = {
        ...executeRequest('sha256:x'),
        config: { limit: 5, name: 'x' },
        user: { user_id: 'u-1', user_name: 'Ada' },
        providers: granted,
      };
      const { scope, close } = createScope(request, logger);
      const calls: Array<[string, string, unknown[]]> = [
        ['context', 'getContext', []],
        ['config', 'get', ['limit']],
        ['config', 'get', ['toString']],
        ['config', 'getAll', []],
        ['random', 'getRandomBytes', [-1]],
        ['random', 'getRandomBytes', [70_000]],
        ['user', 'getUser', []],
      ];
      for (const [iface, fn, args] of calls) {
        assert.deepEqual(local(scope, iface, fn, args), await main(scope, iface, fn, args), `${iface}.${fn}`);
      }
      const bytes = local(scope, 'random', 'getRandomBytes', [32]);
      if (granted.length) assert.equal((bytes as { value: Uint8Array }).value.length, 32);
      else assert.equal(bytes?.kind, 'trap');
      assert.equal(local(scope, 'secrets', 'get', ['k']), undefined, 'secrets never answer off the main thread');
      assert.equal(local(scope, 'logging', 'logInfo', ['x']), undefined, 'logging never answers off the main thread');
      close();
    }
  });
});
