/**
 * In-process engine comparison: the per-request cost of a fresh sandbox for
 * the same realistic handler, measured side by side in one run, each engine
 * in a process of its own (runEngineBench).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { transpile } from '@bytecodealliance/jco';
import { buildExtension } from '@alga-psa/cli';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import { secretAad, type ExecuteRequest } from '@alga-psa/protocol';
import { LocalKeyring } from '@alga-psa/transit';
import { exposeResetState, trackWrites } from '@alga-psa/wasm-rewrite';
import { applyWasmTiering, Engine, type InstanceMode, type WasmTiering } from '../packages/runner/src/engine/index.ts';
import { guestValue, readDebugFlagOnce, type GuestRoot } from '../packages/runner/src/engine/jco-glue.ts';
import { InstanceRecorder, ResetSnapshot } from '../packages/runner/src/engine/reset.ts';
import { warmUp, warmUpAnswer } from '../packages/runner/src/engine/warm-up.ts';
import { createLocalAnswerer, hostPlan } from '../packages/runner/src/host-calls/index.ts';
import { createLogger } from '../packages/runner/src/logger.ts';
import { RUNNER_NODE_FLAGS } from '../packages/runner/src/node-flags.ts';
import { createRequestProviders } from '../packages/runner/src/providers/index.ts';
import { testProviders } from '../packages/runner/src/testing/providers.ts';
import { benchWasmTiering } from './lib/tiering.ts';
import { HOST_DATA, PLAIN_HANDLER } from './lib/guest-source.ts';
import { BENCH_REQUEST, jcoHostImports } from './lib/jco-host.ts';
import { measure as measureAlone, type Summary, type Warmup } from './lib/stats.ts';
import { measureInRounds, RoundClient, ROUNDS_ENV } from './lib/rounds.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface EngineRow {
  engine: string;
  isolation: string;
  summary: Summary;
  /** Bytes of heap + external memory per warm sandbox slot (approximate). */
  memoryPerSlot?: number;
  /** Where the work runs: in this thread, or through the runner's worker pool. */
  path: 'in-thread' | 'runner engine';
  /** Notes for the table (what the number includes). */
  note?: string;
}

const request = BENCH_REQUEST;

/** While true, imports answer as the worker's do during an instance's warm-up (warm-up.ts). */
let warmingUp = false;
/** The runner's own warm-up answers, by interface. */
const plan = new Map(hostPlan(testProviders()).map((planned) => [planned.iface, planned]));
const answerLocally = createLocalAnswerer(createRequestProviders());

function witImports() {
  const imports = jcoHostImports();
  for (const [key, functions] of Object.entries(imports)) {
    if (!key.startsWith('alga:extension/')) continue;
    const iface = key.slice('alga:extension/'.length);
    for (const [fn, impl] of Object.entries(functions)) {
      functions[fn] = (...args: never[]) =>
        warmingUp ? guestValue(iface, fn, warmUpAnswer(plan.get(iface)!, answerLocally, fn, args)) : impl(...args);
    }
  }
  return imports;
}

/** The realistic fixture built as a component (`alga build` reuses its cached build). */
async function fixtureComponent(): Promise<Uint8Array> {
  const build = await buildExtension({ dir: path.join(here, 'fixtures/realistic') });
  return readFile(build.componentPath);
}

type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: object,
  instantiateCore?: InstanceRecorder['instantiateCore'],
) => GuestRoot;

export async function loadComponent(): Promise<{
  instantiate: Instantiate;
  modules: Record<string, WebAssembly.Module>;
  /** The same modules rewritten with the reset exports and write tracking (as the runner's loader does). */
  resettable: Record<string, WebAssembly.Module>;
  /** With the reset exports only: every restore compares the whole memory. */
  untracked: Record<string, WebAssembly.Module>;
  /** Whether some module's code can write a table (then a reset restores tables too). */
  tablesWritable: boolean;
}> {
  const { files } = await transpile(await fixtureComponent(), {
    name: 'c',
    instantiation: 'sync',
    noTypescript: true,
    quiet: true,
  });
  const glue = readDebugFlagOnce(Buffer.from(files['c.js']!).toString('utf8'));
  const mod = (await import(`data:text/javascript;base64,${Buffer.from(glue).toString('base64')}`)) as {
    instantiate: never;
  };
  const modules: Record<string, WebAssembly.Module> = {};
  const resettable: Record<string, WebAssembly.Module> = {};
  const untracked: Record<string, WebAssembly.Module> = {};
  let tablesWritable = false;
  for (const [name, bytes] of Object.entries(files)) {
    if (!name.endsWith('.wasm')) continue;
    modules[name] = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    const exposed = exposeResetState(bytes).module;
    untracked[name] = await WebAssembly.compile(exposed as Uint8Array<ArrayBuffer>);
    const tracking = trackWrites(exposed);
    tablesWritable ||= tracking.writesTables;
    resettable[name] = await WebAssembly.compile(tracking.module as Uint8Array<ArrayBuffer>);
  }
  return { instantiate: mod.instantiate, modules, resettable, untracked, tablesWritable };
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Rounds the parent measures this row's process in (lib/rounds.ts); 0 when the row runs on its own. */
const ROUNDS = Number(process.env[ROUNDS_ENV] ?? 0);

/** A row's samples: in the parent's rounds when it runs them, else all at once. */
function measure(n: number, warmup: Warmup, fn: () => unknown | Promise<unknown>): Promise<Summary> {
  return ROUNDS > 0 ? measureInRounds(n, warmup, fn, ROUNDS) : measureAlone(n, warmup, fn);
}

export interface EngineBenchOptions {
  n: number;
  warmup: Warmup;
  /** Requests for the slow naive row (it costs ~3.5 ms each). */
  naiveN?: number;
  /**
   * The V8 wasm tiering (the runner's is `eager`; `BENCH_WASM_TIERING`), set in every row's
   * process before anything compiles: every row, peers included, runs with
   * the V8 settings the runner engine rows run with.
   */
  wasmTiering: WasmTiering;
}

const memoryBytes = (recorder: InstanceRecorder) =>
  recorder.memories().reduce((sum, memory) => sum + memory.buffer.byteLength, 0);

type LoadedBenchComponent = Awaited<ReturnType<typeof loadComponent>>;

/** 1. Naive: a fresh jco instance per request. */
async function naiveRow(
  { instantiate, modules }: LoadedBenchComponent,
  options: EngineBenchOptions,
): Promise<EngineRow> {
  const getCoreModule = (name: string) => modules[name]!;
  const sizing = new InstanceRecorder();
  instantiate(getCoreModule, witImports(), sizing.instantiateCore);
  let i = 0;
  return {
    engine: 'jco, fresh instance (naive)',
    isolation: 'fresh per request',
    path: 'in-thread',
    memoryPerSlot: memoryBytes(sizing),
    summary: await measure(options.naiveN ?? options.n, options.warmup, async () => {
      instantiate(getCoreModule, witImports()).handler(request);
      // Dead instances' memories are only freed once the loop turns.
      if (++i % 16 === 0) await yieldToLoop();
    }),
  };
}

/** 2. Reused: one instance for every request — no isolation, the floor. */
async function reusedRow(
  { instantiate, modules }: LoadedBenchComponent,
  options: EngineBenchOptions,
): Promise<EngineRow> {
  const sizing = new InstanceRecorder();
  const reused = instantiate((name) => modules[name]!, witImports(), sizing.instantiateCore);
  return {
    engine: 'jco, one reused instance (floor)',
    isolation: 'none (state leaks)',
    path: 'in-thread',
    memoryPerSlot: memoryBytes(sizing),
    summary: await measure(options.n, options.warmup, () => reused.handler(request)),
  };
}

interface ResetVariant {
  engine: string;
  /** Modules with write tracking (else every page is compared). */
  tracked: boolean;
  /** Warmed up before the snapshot. */
  warm: boolean;
  note: string;
}

/**
 * 3. Reset-in-place, in this thread: handler, then restore (what a worker
 * spends per request), as the runner does it or with a part left out.
 */
async function resetRow(
  { instantiate, resettable, untracked, tablesWritable }: LoadedBenchComponent,
  options: EngineBenchOptions,
  variant: ResetVariant,
): Promise<EngineRow> {
  const recorder = new InstanceRecorder();
  const warm = instantiate(
    (name) => (variant.tracked ? resettable : untracked)[name]!,
    witImports(),
    recorder.instantiateCore,
  );
  if (variant.warm) {
    const result = warmUp(warm, (active) => (warmingUp = active));
    if (result.outcome !== 'warmed') throw new Error(`bench guest did not warm up: ${JSON.stringify(result)}`);
  }
  const snapshot = ResetSnapshot.capture(recorder, () => true, {
    tablesWritable: variant.tracked ? tablesWritable : true,
  });
  let dirty = 0;
  let runs = 0;
  const handlerOnly: number[] = [];
  const summary = await measure(options.n, options.warmup, () => {
    runs++;
    const t = performance.now();
    warm.handler(request);
    handlerOnly.push(performance.now() - t);
    const result = snapshot.restore();
    if (result.discard) throw new Error(`bench instance discarded: ${result.discard}`);
    dirty += result.dirtyBlocks;
  });
  handlerOnly.sort((a, b) => a - b);
  return {
    engine: variant.engine,
    isolation: 'fresh state per request',
    path: 'in-thread',
    memoryPerSlot: memoryBytes(recorder) + snapshot.bytes,
    note:
      `handler + restore; handler alone p50 ${handlerOnly[handlerOnly.length >> 1]!.toFixed(3)} ms, ` +
      `${(dirty / runs).toFixed(0)} dirty 1 KiB blocks/request${variant.note}`,
    summary,
  };
}

type RowRunner = (options: EngineBenchOptions, component: () => Promise<LoadedBenchComponent>) => Promise<EngineRow>;

/** A reset row: as the runner does it, or with write tracking or warm-up left out. */
const resetVariant =
  (engine: string, parts: Pick<ResetVariant, 'tracked' | 'warm'>, note = ''): RowRunner =>
  async (options, component) =>
    resetRow(await component(), options, { engine, ...parts, note });

/** Section 1's rows, in table order. */
const ROWS = {
  naive: async (options, component) => naiveRow(await component(), options),
  reused: async (options, component) => reusedRow(await component(), options),
  reset: resetVariant('jco, reset-in-place (ours, in-thread)', { tracked: true, warm: true }),
  'reset-without-warm-up': resetVariant(
    'jco, reset-in-place without warm-up (in-thread)',
    { tracked: true, warm: false },
    '; snapshot taken before any call',
  ),
  'reset-without-write-tracking': resetVariant(
    'jco, reset-in-place without write tracking (in-thread)',
    { tracked: false, warm: true },
    '; every page compared, tables copied back',
  ),
  // 4. isolated-vm: a fresh context per request in one isolate.
  'isolated-vm': (options) => isolatedVmRow(options),
  // 5. QuickJS: a fresh runtime + context per request.
  quickjs: (options) => quickJsRow(options),
  // 6. The runner's engine itself (worker pool, host-call bridge, providers).
  // These need only the component's bytes: the runner transpiles and compiles it itself.
  'runner-reset': async (options) => runnerEngineRow(await fixtureComponent(), options, { instanceMode: 'reset' }),
  // The same with every request in a worker (inlineFuel 0), and with busy polling on top (an engine option).
  'runner-reset-workers': async (options) =>
    runnerEngineRow(await fixtureComponent(), options, { instanceMode: 'reset', inlineFuel: 0 }),
  'runner-reset-busy-poll': async (options) =>
    runnerEngineRow(await fixtureComponent(), options, {
      instanceMode: 'reset',
      inlineFuel: 0,
      busyPollMicros: BENCH_BUSY_POLL_MICROS,
    }),
  'runner-fresh': async (options) =>
    runnerEngineRow(await fixtureComponent(), options, { instanceMode: 'fresh', n: options.naiveN }),
  'runner-bridge': async (options) =>
    runnerEngineRow(await fixtureComponent(), options, { instanceMode: 'reset', localHostCalls: false, inlineFuel: 0 }),
} satisfies Record<string, RowRunner>;

export type EngineRowId = keyof typeof ROWS;

/** Rounds each row's samples are spread over (lib/rounds.ts). */
export const ENGINE_ROUNDS = 10;

/**
 * Runs every row, each in a process of its own: a row never pays for the
 * garbage, heap growth or background compiles another row left behind (the
 * naive row alone leaves hundreds of dead 10 MB memories). Every process
 * gets the same V8 settings and options. The processes are started and
 * warmed up one after the other, then measured in interleaved rounds
 * (lib/rounds.ts), so that every row sees the same machine.
 */
export async function runEngineBench(
  options: EngineBenchOptions,
  progress: (message: string) => void = () => {},
): Promise<EngineRow[]> {
  // BENCH_ENGINE_ROWS=a,b measures only those rows (for a quick comparison; the report wants them all).
  const only = process.env.BENCH_ENGINE_ROWS?.split(',').map((id) => id.trim());
  const ids = (Object.keys(ROWS) as EngineRowId[]).filter((id) => !only || only.includes(id));
  const children: Array<{ id: EngineRowId; child: ChildProcess; client: RoundClient; exited: Promise<unknown[]> }> = [];
  try {
    for (const id of ids) {
      progress(`engine row ${id}: loading and warming up`);
      // Every row with the runner process's Node flags: the same V8 heap settings for all.
      const child = spawn(process.execPath, [...RUNNER_NODE_FLAGS, fileURLToPath(import.meta.url), '--row', id], {
        env: { ...process.env, BENCH_ENGINE_OPTIONS: JSON.stringify(options), [ROUNDS_ENV]: String(ENGINE_ROUNDS) },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const client = new RoundClient(child);
      children.push({ id, child, client, exited: once(child, 'exit') });
      if ((await client.next(`engine row ${id}`)) !== 'ready') throw new Error(`engine row ${id} did not get ready.`);
    }
    for (let round = 0; round < ENGINE_ROUNDS; round++) {
      progress(`engine rows: round ${round + 1} of ${ENGINE_ROUNDS}`);
      // Each round starts with another row, so no row always follows the same one.
      for (let i = 0; i < children.length; i++) {
        const { id, client, child: measured } = children[(round + i) % children.length]!;
        // Only the measured row's process runs; the others are stopped (lib/rounds.ts).
        for (const { child } of children) if (child !== measured) child.kill('SIGSTOP');
        try {
          if ((await client.send('round', `engine row ${id}`)) !== 'ran')
            throw new Error(`engine row ${id} lost count.`);
        } finally {
          for (const { child } of children) if (child !== measured) child.kill('SIGCONT');
        }
      }
    }
    const rows: EngineRow[] = [];
    for (const { id, client, exited } of children) {
      const line = await client.send('done', `engine row ${id}`);
      if (!line.startsWith('row ')) throw new Error(`engine row ${id} answered ${JSON.stringify(line.slice(0, 80))}.`);
      rows.push(JSON.parse(line.slice(4)) as EngineRow);
      const [code] = (await exited) as [number | null];
      if (code !== 0) throw new Error(`engine row ${id} failed (exit code ${code}); its output is above.`);
    }
    return rows;
  } finally {
    for (const { child } of children) {
      // A stopped process would keep a SIGTERM pending forever.
      if (child.exitCode !== null) continue;
      child.kill('SIGCONT');
      child.kill();
    }
  }
}

/** In a row's own process: sets the runner's tiering before anything compiles, then measures. */
async function runRow(id: string, options: EngineBenchOptions): Promise<EngineRow> {
  if (!Object.hasOwn(ROWS, id)) throw new Error(`Unknown engine row ${JSON.stringify(id)}.`);
  applyWasmTiering(options.wasmTiering);
  let loaded: Promise<LoadedBenchComponent> | undefined;
  return ROWS[id as EngineRowId](options, () => (loaded ??= loadComponent()));
}

/** One request as the runner gets it, for the realistic fixture (secret, config, context, log). */
export async function realisticRequest(keyring: LocalKeyring, contentHash: string): Promise<ExecuteRequest> {
  const tenant = 'tenant-bench';
  const install = 'install-bench';
  return {
    context: {
      request_id: 'bench',
      tenant_id: tenant,
      extension_id: 'bench-realistic',
      install_id: install,
      version_id: '1',
      content_hash: contentHash,
    },
    config: { greeting: 'Hello' },
    providers: ['cap:context.read', 'cap:secrets.get', 'cap:log.emit'],
    secret_envelope: {
      version: 'v1',
      algorithm: 'aes-256-gcm',
      key_ref: keyring.keyRef,
      expires_at: null,
      ciphertexts: {
        api_token: await keyring.encrypt(Buffer.from(HOST_DATA.secret), secretAad(tenant, install, 'api_token')),
      },
    },
    http: { method: 'GET', path: '/work', query: '', headers: {}, body_b64: null },
  };
}

/** The busy-poll budget of the runner row that uses one (an engine option for the benchmark). */
export const BENCH_BUSY_POLL_MICROS = 250;

interface RunnerRowSettings {
  instanceMode: InstanceMode;
  /** Context, config and random answered in the worker (the default), or every call over the bridge. */
  localHostCalls?: boolean;
  n?: number;
  busyPollMicros?: number;
  /** Fuel for inline runs; 0 sends every request to a worker. Default: the engine's. */
  inlineFuel?: number;
}

async function runnerEngineRow(
  componentBytes: Uint8Array,
  options: EngineBenchOptions,
  { instanceMode, localHostCalls = true, n = options.n, busyPollMicros = 0, inlineFuel }: RunnerRowSettings,
): Promise<EngineRow> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-bench-engine-'));
  const bundleStore = new DirectoryBundleStore(path.join(dir, 'bundles'));
  const keyring = await LocalKeyring.open(path.join(dir, 'transit.key'), { create: true });
  // The runner's logger (path redaction, secret masking), warnings only, on the
  // row's stderr, which the bench shows if the row fails.
  const logger = createLogger({ level: 'warn', stream: pino.destination(2) });
  const engine = new Engine({
    bundleStore,
    providers: testProviders({ secretCacheTtlMs: 60_000, secretCacheMaxEntries: 10 }, { decrypter: keyring }),
    workers: 1,
    queueLimit: 8,
    defaultTimeoutMs: 5000,
    maxTimeoutMs: 5000,
    defaultMemoryMb: 128,
    maxMemoryMb: 128,
    logger,
    instanceMode,
    localHostCalls,
    wasmTiering: options.wasmTiering,
    busyPollMicros,
    ...(inlineFuel === undefined ? {} : { inlineFuel }),
  });
  try {
    const executeRequest = await realisticRequest(keyring, await bundleStore.put(componentBytes));
    const summary = await measure(n, options.warmup, () => engine.execute(executeRequest, logger));
    const { instances: stats, inline } = engine.stats;
    return {
      engine:
        `runner engine, ${instanceMode} mode` +
        (inlineFuel === 0 ? ', workers only' : '') +
        (localHostCalls ? '' : ', every host call over the bridge') +
        (busyPollMicros ? `, busy poll ${busyPollMicros} µs` : ''),
      isolation: 'fresh state per request',
      path: 'runner engine',
      note:
        `1 worker, sequential; ` +
        (inline
          ? `${inline.runs} requests inline, ${Object.values(inline.declined).reduce((a, b) => a + b, 0)} declined; `
          : '') +
        `instances restored ${stats.restored}, replaced ${stats.retired + stats.failed + stats['memory-grew'] + stats['table-changed'] + stats['global-unwritable'] + stats['resources-left']}`,
      summary,
    };
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function isolatedVmRow(options: { n: number; warmup: Warmup }): Promise<EngineRow> {
  const { default: ivm } = await import('isolated-vm');
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const script = isolate.compileScriptSync(`${PLAIN_HANDLER}; handler('/work');`);
  const run = () => {
    const context = isolate.createContextSync();
    const jail = context.global;
    jail.setSync('host_context', new ivm.Callback(() => HOST_DATA.context));
    jail.setSync('host_config', new ivm.Callback(() => HOST_DATA.config));
    jail.setSync('host_secret', new ivm.Callback(() => HOST_DATA.secret));
    jail.setSync('host_log', new ivm.Callback(() => undefined));
    const result = script.runSync(context) as string;
    context.release();
    return result;
  };
  const summary = await measure(options.n, options.warmup, run);
  // A warm slot here is one live context: the isolate's heap growth per context held.
  const before = isolate.getHeapStatisticsSync().used_heap_size;
  const held = Array.from({ length: 20 }, () => isolate.createContextSync());
  const perContext = (isolate.getHeapStatisticsSync().used_heap_size - before) / held.length;
  for (const context of held) context.release();
  isolate.dispose();
  return {
    engine: 'isolated-vm, fresh context',
    isolation: 'fresh per request',
    path: 'in-thread',
    memoryPerSlot: perContext,
    summary,
  };
}

async function quickJsRow(options: { n: number; warmup: Warmup }): Promise<EngineRow> {
  const { getQuickJS } = await import('quickjs-emscripten');
  const QuickJS = await getQuickJS();
  const run = () => {
    const runtime = QuickJS.newRuntime();
    runtime.setMemoryLimit(128 * 1024 * 1024);
    const vm = runtime.newContext();
    for (const [name, value] of [
      ['host_context', HOST_DATA.context],
      ['host_config', HOST_DATA.config],
      ['host_secret', HOST_DATA.secret],
      ['host_log', ''],
    ] as const) {
      const fn = vm.newFunction(name, () => vm.newString(value));
      vm.setProp(vm.global, name, fn);
      fn.dispose();
    }
    const result = vm.unwrapResult(vm.evalCode(`${PLAIN_HANDLER}; handler('/work');`));
    const out = vm.getString(result);
    result.dispose();
    vm.dispose();
    runtime.dispose();
    return out;
  };
  const summary = await measure(options.n, options.warmup, run);
  const runtime = QuickJS.newRuntime();
  const vm = runtime.newContext();
  vm.unwrapResult(vm.evalCode(PLAIN_HANDLER)).dispose();
  const usageHandle = runtime.computeMemoryUsage(vm);
  const usage = vm.dump(usageHandle) as { memory_used_size: number };
  usageHandle.dispose();
  vm.dispose();
  runtime.dispose();
  return {
    engine: 'quickjs-emscripten, fresh runtime',
    isolation: 'fresh per request',
    path: 'in-thread',
    memoryPerSlot: usage.memory_used_size,
    summary,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rowAt = process.argv.indexOf('--row');
  if (rowAt !== -1) {
    const options = JSON.parse(process.env.BENCH_ENGINE_OPTIONS ?? '') as EngineBenchOptions;
    const row = JSON.stringify(await runRow(process.argv[rowAt + 1] ?? '', options));
    process.stdout.write(ROUNDS > 0 ? `row ${row}\n` : row);
    // Workers, isolates and runtimes a row leaves open must not keep its process alive.
    process.exit(0);
  }
  const rows = await runEngineBench(
    {
      n: Number(process.env.BENCH_N ?? 500),
      warmup: { runs: 50, ms: 5000 },
      naiveN: 200,
      wasmTiering: benchWasmTiering(),
    },
    (message) => process.stderr.write(`${message}\n`),
  );
  console.table(
    rows.map((r) => ({
      engine: r.engine,
      p50: r.summary.p50.toFixed(3),
      p99: r.summary.p99.toFixed(3),
      rps: Math.round(r.summary.rps),
    })),
  );
}
