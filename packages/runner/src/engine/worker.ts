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
 * of the request that uses it (when the pool prepares the component, or
 * after the previous response). In `reset` mode (reset.ts) a new instance
 * is warmed up (warm-up.ts) and snapshotted, and put back into that state
 * after every request, after the response was posted; in `fresh` mode, or when the restore is not possible
 * (memory grew, a table grew, the guest failed), it is dropped and a new one
 * is instantiated, also after the response. Either way a request never runs
 * on an instance that another request has left in a different state.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  createLocalDispatcher,
  guestValue,
  ONE_WAY_INTERFACES,
  type HostOutcome,
  type LocalScope,
} from '../providers/index.ts';
import { WIT_PACKAGE_PREFIX, WIT_VERSION, WORLD_FUNCTIONS, WORLD_INTERFACES } from '../world.ts';
import { InstanceRecorder, ResetSnapshot } from './reset.ts';
import { warmUp, warmUpHostCall, type WarmableRoot } from './warm-up.ts';
import {
  countInstance,
  type ComponentLoad,
  type FailurePhase,
  type FromWorker,
  type HostCall,
  type HostReply,
  type Recycled,
  type ToWorker,
  type WorkerInit,
} from './messages.ts';

type Instantiate = (
  getCoreModule: (path: string) => WebAssembly.Module,
  imports: Record<string, Record<string, (...args: unknown[]) => unknown>>,
  instantiateCore?: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => WebAssembly.Instance,
) => WarmableRoot;

interface CachedComponent {
  instantiate: Instantiate;
  modules: Record<string, WebAssembly.Module>;
  resettable: boolean;
  tablesWritable: boolean;
  /** Set once the guest refused a warm-up: its instances are snapshotted cold from then on. */
  warmUpRefused?: boolean;
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
const init = workerData as WorkerInit;
const { port, results, signal, instanceMode, localHostCalls } = init;
const flag = new Int32Array(signal);
const counters = new BigInt64Array(init.counters);
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
/** True while a new instance runs its warm-up call (warm-up.ts): the host answers with no data. */
let warmingUp = false;

function callHost(iface: string, fn: string, args: unknown[]): unknown {
  if (warmingUp) return guestValue(iface, fn, warmUpHostCall(iface, fn, args));
  if (localHostCalls && ONE_WAY_INTERFACES.has(iface)) {
    if (!serving) throw new Error(`${WIT_PACKAGE_PREFIX}${iface}.${fn} called outside a request.`);
    results.postMessage({
      type: 'notify',
      jobId: currentJob,
      call: { callId: 0, iface, fn, args },
    } satisfies FromWorker);
    return undefined;
  }
  return guestValue(iface, fn, (local && localDispatch(local, iface, fn, args)) ?? callMainThread(iface, fn, args));
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
    if (!component.warmUpRefused) {
      const result = warmUp(root, (active) => (warmingUp = active));
      if (result.outcome === 'refused') {
        // Whatever ran is not the agreed warm-up: this instance is not a clean start.
        countInstance(counters, 'warmUpRefused');
        component.warmUpRefused = true;
        return instantiate(component);
      }
      if (result.outcome === 'warmed') countInstance(counters, 'warmedUp');
    }
    // Before any request: the state every request must start from.
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
function recycle(key: string, component: CachedComponent, used: WarmInstance, failed: boolean): void {
  let outcome: Recycled;
  if (failed) outcome = 'failed';
  else if (!used.snapshot) outcome = 'retired';
  else if (used.uses >= MAX_USES) outcome = 'retired';
  else {
    const result = used.snapshot.restore();
    countInstance(counters, 'dirtyPages', result.dirtyPages);
    outcome = result.discard ?? 'restored';
  }
  countInstance(counters, outcome);
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
      const load = message.load ?? unprepared.get(componentKey);
      if (!load) throw new Error(`Component ${componentKey} was not sent to this worker.`);
      component = await loadComponent(load);
      unprepared.delete(componentKey);
    }
    remember(componentKey, component);
    local =
      localHostCalls && message.local
        ? { request: message.local.request, granted: new Set(message.local.granted), answers: message.local.answers }
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
  results.postMessage(result);
  // After the response: the restore (or a replacement instance) is off the request's critical path.
  if (component && used && !(result.type === 'failed' && result.memoryLimit)) {
    recycle(componentKey, component, used, result.type === 'failed');
  }
}

async function loadComponent(load: ComponentLoad): Promise<CachedComponent> {
  // The glue is jco's output for this bundle, generated by the runner
  // itself; a data: URL imports it without touching the filesystem.
  const url = `data:text/javascript;base64,${Buffer.from(load.glue, 'utf8').toString('base64')}`;
  const glue = (await import(url)) as { instantiate: Instantiate };
  return {
    instantiate: glue.instantiate,
    modules: load.modules,
    resettable: load.resettable,
    tablesWritable: load.tablesWritable,
  };
}

/** Components a `prepare` could not load: a request loads them again and reports why. */
const unprepared = new Map<string, ComponentLoad>();

/** Makes a component's instance ready before its first request (the pool's `prepare`). */
async function prepare({ componentKey, load }: Extract<ToWorker, { type: 'prepare' }>): Promise<void> {
  let component = components.get(componentKey);
  try {
    if (!component) {
      unprepared.set(componentKey, load);
      component = await loadComponent(load);
      unprepared.delete(componentKey);
    }
    remember(componentKey, component);
    component.warm ??= instantiate(component);
  } catch {
    // The first request instantiates again and answers with the error.
  }
  results.postMessage({ type: 'prepared', componentKey } satisfies FromWorker);
}

/**
 * Messages are handled one at a time, in order: loading a component awaits
 * its glue's import, and a request must not overtake the prepare before it.
 */
let handled = Promise.resolve();
parent.on('message', (message: ToWorker) => {
  handled = handled.then(() => {
    if (message.type === 'evict') {
      components.delete(message.componentKey);
      unprepared.delete(message.componentKey);
      return;
    }
    return message.type === 'prepare' ? prepare(message) : run(message);
  });
  // Never let one failure stop the chain (its job then times out and the pool replaces this worker).
  handled = handled.catch((error: unknown) => console.error('worker: message handling failed:', error));
});
