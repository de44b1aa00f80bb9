/**
 * A worker thread that runs extension components, one request at a time.
 *
 * Why a synchronous bridge: jco's sync glue calls the guest's imports as
 * plain synchronous functions from inside wasm, but providers live on the
 * main thread and may be async (transit, outbound HTTP, storage). So an
 * import posts the call on a MessagePort and blocks this thread with
 * `Atomics.wait` until the main thread has posted the reply and flipped the
 * shared flag; the reply is then read with `receiveMessageOnPort`, without
 * ever returning to this thread's event loop. Blocking is fine here: the
 * thread serves exactly one execution, and the pool's deadline can still
 * `terminate()` a thread that is blocked or spinning in wasm. Calls that
 * only read the request (context, config, random) are answered here without
 * the bridge (providers' `WORKER_LOCAL_INTERFACES`), and calls that return
 * nothing (logging) are posted without waiting (`ONE_WAY_INTERFACES`).
 *
 * Instances: each component keeps one warm instance per worker, made ahead
 * of the request that uses it. In `reset` mode (reset.ts) the instance is
 * put back into its post-instantiation state after every request, after the
 * response was posted; in `fresh` mode, or when the restore is not possible
 * (memory grew, a table grew, the guest failed), it is dropped and a new one
 * is instantiated, also after the response. Either way a request never runs
 * on an instance that another request has left in a different state.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { createLocalDispatcher, ONE_WAY_INTERFACES, type HostOutcome, type LocalScope } from '../providers/index.ts';
import {
  WIT_PACKAGE_PREFIX,
  WIT_VERSION,
  WORLD_FUNCTIONS,
  WORLD_INTERFACES,
  type WitExecuteRequest,
  type WitExecuteResponse,
} from '../world.ts';
import { InstanceRecorder, ResetSnapshot } from './reset.ts';
import type { FailurePhase, FromWorker, HostCall, HostReply, Recycled, ToWorker, WorkerInit } from './messages.ts';

type Instantiate = (
  getCoreModule: (path: string) => WebAssembly.Module,
  imports: Record<string, Record<string, (...args: unknown[]) => unknown>>,
  instantiateCore?: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
) => { handler(request: WitExecuteRequest): WitExecuteResponse | Promise<WitExecuteResponse> };

interface CachedComponent {
  instantiate: Instantiate;
  modules: Record<string, WebAssembly.Module>;
  resettable: boolean;
  tablesWritable: boolean;
  /** An instance no request has run on yet, or one restored to that state. */
  warm?: WarmInstance;
}

interface WarmInstance {
  root: ReturnType<Instantiate>;
  recorder: InstanceRecorder;
  snapshot?: ResetSnapshot;
  /** Requests served since instantiation. */
  uses: number;
}

if (!parentPort) throw new Error('worker.ts must run in a worker thread.');
const parent = parentPort;
const { port, signal, instanceMode, localHostCalls } = workerData as WorkerInit;
const flag = new Int32Array(signal);
/** Insertion order is recency: the least recently used component is evicted first. */
const components = new Map<string, CachedComponent>();
let nextCallId = 0;

/**
 * Components whose warm instance a worker keeps: each costs its linear
 * memory plus (reset mode) a snapshot of it, ~20 MB for a componentize-js
 * guest. Colder components get a new instance on their next request.
 */
const MAX_WARM_COMPONENTS = 8;
/**
 * A restored instance is replaced after this many requests anyway. The
 * guest cannot tell, but it bounds anything outside the snapshot that a
 * future jco glue might accumulate per call (today it accumulates nothing).
 */
const MAX_USES = 10_000;

const localDispatch = createLocalDispatcher();
/** The running execution's data, for the worker-local interfaces. */
let local: LocalScope | undefined;
/**
 * True while a request runs. An instance prepared after a response has no
 * request, and the pool answers host calls only for an active one: a guest
 * calling the host while being instantiated ahead of time fails that
 * instantiation here, instead of waiting forever for a reply, and its next
 * request instantiates it again with the host available.
 */
let serving = false;
/** The job being served, for one-way calls. */
let currentJob = 0;

function callHost(iface: string, fn: string, args: unknown[]): unknown {
  if (localHostCalls && ONE_WAY_INTERFACES.has(iface)) {
    if (!serving) throw new Error(`${WIT_PACKAGE_PREFIX}${iface}.${fn} called outside a request.`);
    parent.postMessage({
      type: 'notify',
      jobId: currentJob,
      call: { callId: 0, iface, fn, args },
    } satisfies FromWorker);
    return undefined;
  }
  const outcome = (local && localDispatch(local, iface, fn, args)) ?? callMainThread(iface, fn, args);
  if (outcome.kind === 'ok') return outcome.value;
  if (outcome.kind === 'err') {
    // jco lowers a thrown value with an own `payload` property into the
    // `err` case of the import's `result<T, E>` (see `getErrorPayload` in the
    // glue); any other Error becomes a trap.
    throw Object.assign(new Error(`${WIT_PACKAGE_PREFIX}${iface}.${fn} returned an error`), {
      payload: outcome.payload,
    });
  }
  throw new Error(outcome.message);
}

function callMainThread(iface: string, fn: string, args: unknown[]): HostOutcome {
  if (!serving) throw new Error(`${WIT_PACKAGE_PREFIX}${iface}.${fn} called outside a request.`);
  const callId = ++nextCallId;
  Atomics.store(flag, 0, 0);
  port.postMessage({ callId, iface, fn, args } satisfies HostCall);
  Atomics.wait(flag, 0, 0);
  const received = receiveMessageOnPort(port);
  const reply = received?.message as HostReply | undefined;
  if (!reply || reply.callId !== callId) {
    throw new Error(`Host call bridge out of sync on ${iface}.${fn}.`);
  }
  return reply.outcome;
}

/** Every interface of the world, each function forwarding to the host. */
function buildImports(): Record<string, Record<string, (...args: unknown[]) => unknown>> {
  const imports: Record<string, Record<string, (...args: unknown[]) => unknown>> = {};
  for (const iface of WORLD_INTERFACES) {
    const functions: Record<string, (...args: unknown[]) => unknown> = {};
    for (const fn of WORLD_FUNCTIONS[iface]) functions[fn] = (...args) => callHost(iface, fn, args);
    // jco's glue looks imports up by unversioned name; the versioned key is
    // supplied too for glue that keeps the version.
    imports[`${WIT_PACKAGE_PREFIX}${iface}`] = functions;
    imports[`${WIT_PACKAGE_PREFIX}${iface}@${WIT_VERSION}`] = functions;
  }
  return imports;
}
const imports = buildImports();

const MAX_DETAIL = 4096;

/**
 * How close to its cap a memory must be for a failure to count as a limit
 * breach: the guest's allocator grows in chunks, so the grow that failed
 * asked for more than what was left. 1/16 of the cap, at least 2 MiB.
 */
function nearCap(memories: WebAssembly.Memory[], limitBytes: number): boolean {
  const slack = Math.max(2 * 1024 * 1024, limitBytes / 16);
  return memories.some((memory) => memory.buffer.byteLength + slack >= limitBytes);
}

/** A log-sized description: the glue's data: URL would otherwise fill every stack frame. */
function describe(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text.replace(/data:text\/javascript;base64,[A-Za-z0-9+/=]+/g, '<component glue>').slice(0, MAX_DETAIL);
}

function instantiate(component: CachedComponent): WarmInstance {
  const { modules } = component;
  const recorder = new InstanceRecorder();
  const root = component.instantiate(
    (path) => {
      const module = modules[path];
      if (!module) throw new Error(`The glue asked for an unknown core module ${path}.`);
      return module;
    },
    imports,
    recorder.instantiateCore,
  );
  const warm: WarmInstance = { root, recorder, uses: 0 };
  if (instanceMode === 'reset' && component.resettable) {
    // Right after instantiation, before any request: the state every request must start from.
    warm.snapshot = ResetSnapshot.capture(recorder, () => true, { tablesWritable: component.tablesWritable });
  }
  return warm;
}

/** Marks `component` most recently used and drops the warm instances of the coldest beyond the cap. */
function remember(key: string, component: CachedComponent): void {
  components.delete(key);
  components.set(key, component);
  let excess = -MAX_WARM_COMPONENTS;
  for (const other of components.values()) if (other.warm) excess++;
  for (const other of components.values()) {
    if (excess <= 0) break;
    if (other.warm) {
      other.warm = undefined;
      excess--;
    }
  }
}

/** The instance that served a request goes back into its snapshot state, or is replaced. */
function recycle(
  key: string,
  component: CachedComponent,
  used: WarmInstance,
  failed: boolean,
): Omit<Extract<FromWorker, { type: 'recycled' }>, 'type' | 'jobId'> {
  let outcome: Recycled;
  let dirtyPages = 0;
  if (failed) outcome = 'failed';
  else if (!used.snapshot) outcome = 'retired';
  else if (used.uses >= MAX_USES) outcome = 'retired';
  else {
    const result = used.snapshot.restore();
    dirtyPages = result.dirtyPages;
    outcome = result.discard ?? 'restored';
  }
  if (outcome === 'restored') {
    component.warm = used;
  } else if (components.get(key) === component) {
    // Prepared now, while no request waits on this worker, rather than on the next request's path.
    try {
      component.warm = instantiate(component);
    } catch {
      component.warm = undefined; // the next request instantiates and reports the error
    }
  }
  return { outcome, dirtyPages, prepared: component.warm !== undefined };
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const { jobId, componentKey } = message;
  let phase: FailurePhase = 'load';
  let component: CachedComponent | undefined;
  let used: WarmInstance | undefined;
  let result: FromWorker;
  serving = true;
  currentJob = jobId;
  try {
    component = components.get(componentKey);
    if (!component) {
      if (!message.load) throw new Error(`Component ${componentKey} was not sent to this worker.`);
      // The glue is jco's output for this bundle, generated by the runner
      // itself; a data: URL imports it without touching the filesystem.
      const url = `data:text/javascript;base64,${Buffer.from(message.load.glue, 'utf8').toString('base64')}`;
      const glue = (await import(url)) as { instantiate: Instantiate };
      component = {
        instantiate: glue.instantiate,
        modules: message.load.modules,
        resettable: message.load.resettable,
        tablesWritable: message.load.tablesWritable,
      };
    }
    remember(componentKey, component);
    local =
      localHostCalls && message.local
        ? { request: message.local.request, granted: new Set(message.local.granted) }
        : undefined;
    phase = 'instantiate';
    used = component.warm ?? instantiate(component);
    // Checked out: nothing else may run on it until it is restored.
    component.warm = undefined;
    used.uses++;
    phase = 'handler';
    const response = await used.root.handler(message.request);
    result = {
      type: 'done',
      jobId,
      response: { status: response.status, headers: response.headers, body: response.body ?? undefined },
    };
  } catch (error) {
    const memoryLimit = used ? nearCap(used.recorder.memories(), message.memoryLimitBytes) : false;
    result = { type: 'failed', jobId, phase, detail: describe(error), ...(memoryLimit ? { memoryLimit } : {}) };
  } finally {
    local = undefined;
    serving = false;
  }
  parent.postMessage(result);
  // After the response: the restore (or a replacement instance) is off the request's critical path.
  if (component && used && !(result.type === 'failed' && result.memoryLimit)) {
    parent.postMessage({
      type: 'recycled',
      jobId,
      ...recycle(componentKey, component, used, result.type === 'failed'),
    } satisfies FromWorker);
  }
}

parent.on('message', (message: ToWorker) => {
  if (message.type === 'evict') {
    components.delete(message.componentKey);
    return;
  }
  void run(message);
});
