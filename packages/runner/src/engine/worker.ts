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
 * of the request that uses it and recycled after the response
 * (instances.ts).
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  createLocalDispatcher,
  guestValue,
  ONE_WAY_INTERFACES,
  type HostOutcome,
  type LocalScope,
} from '../providers/index.ts';
import { WIT_PACKAGE_PREFIX } from '../world.ts';
import { warmUpHostCall } from './warm-up.ts';
import { InstanceCache, worldImports, type CachedComponent, type WarmInstance } from './instances.ts';
import type { ComponentLoad, FailurePhase, FromWorker, HostCall, HostReply, ToWorker, WorkerInit } from './messages.ts';

if (!parentPort) throw new Error('worker.ts must run in a worker thread.');
const parent = parentPort;
const init = workerData as WorkerInit;
const { port, results, signal, instanceMode, localHostCalls } = init;
const flag = new Int32Array(signal);
const counters = new BigInt64Array(init.counters);
/** Components whose warm instance a worker keeps (instances.ts). */
const MAX_WARM_COMPONENTS = 8;
let nextCallId = 0;

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

const cache = new InstanceCache({
  instanceMode,
  imports: worldImports(callHost),
  counters,
  warmingUp: (active) => (warmingUp = active),
  maxWarm: MAX_WARM_COMPONENTS,
});

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const { jobId, componentKey } = message;
  let phase: FailurePhase = 'load';
  let component: CachedComponent | undefined;
  let used: WarmInstance | undefined;
  let result: FromWorker;
  serving = true;
  currentJob = jobId;
  try {
    component = cache.get(componentKey);
    if (!component) {
      const load = message.load ?? unprepared.get(componentKey);
      if (!load) throw new Error(`Component ${componentKey} was not sent to this worker.`);
      component = await cache.load(load);
      unprepared.delete(componentKey);
    }
    cache.remember(componentKey, component);
    local =
      localHostCalls && message.local
        ? { request: message.local.request, granted: new Set(message.local.granted), answers: message.local.answers }
        : undefined;
    phase = 'instantiate';
    used = cache.checkout(component);
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
    cache.recycle(componentKey, component, used, result.type === 'failed');
  }
}

/** Components a `prepare` could not load: a request loads them again and reports why. */
const unprepared = new Map<string, ComponentLoad>();

/** Makes a component's instance ready before its first request (the pool's `prepare`). */
async function prepare({ componentKey, load }: Extract<ToWorker, { type: 'prepare' }>): Promise<void> {
  let component = cache.get(componentKey);
  try {
    if (!component) {
      unprepared.set(componentKey, load);
      component = await cache.load(load);
      unprepared.delete(componentKey);
    }
    cache.remember(componentKey, component);
    component.warm ??= cache.instantiate(component);
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
      cache.delete(message.componentKey);
      unprepared.delete(message.componentKey);
      return;
    }
    return message.type === 'prepare' ? prepare(message) : run(message);
  });
  // Never let one failure stop the chain (its job then times out and the pool replaces this worker).
  handled = handled.catch((error: unknown) => console.error('worker: message handling failed:', error));
});
