/**
 * A worker thread that runs extension components, one request at a time,
 * through its guest host (guest-host.ts).
 *
 * Why a synchronous bridge: jco's sync glue calls the guest's imports as
 * plain synchronous functions from inside wasm, but most providers live on
 * the main thread and may be async (transit, outbound HTTP, storage). So a
 * call that must leave the thread is posted on a MessagePort and the thread
 * blocks in `Atomics.wait` until the main thread has posted the reply and
 * flipped the shared flag; the reply is read with `receiveMessageOnPort`,
 * without returning to this thread's event loop. Blocking is fine here: the
 * thread serves one execution, and the pool's deadline can still
 * `terminate()` a thread that is blocked or spinning in wasm.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { HostOutcome } from '../host-calls/index.ts';
import { GuestHost } from './guest-host.ts';
import type { CachedComponent, WarmInstance } from './instances.ts';
import { describeFailure } from './jco-glue.ts';
import {
  localScopeOf,
  type FailurePhase,
  type FromWorker,
  type HostCall,
  type HostReply,
  type ToWorker,
  type WorkerInit,
} from './messages.ts';

if (!parentPort) throw new Error('worker.ts must run in a worker thread.');
const parent = parentPort;
const init = workerData as WorkerInit;
const { port, results } = init;
const flag = new Int32Array(init.signal);
/** Never notified: a timer's wait is `Atomics.wait` on it with a timeout. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Components whose warm instance a worker keeps. */
const MAX_WARM_COMPONENTS = 8;
let nextCallId = 0;
/** The job being served, for one-way calls. */
let currentJob = 0;

const host = new GuestHost({
  plan: init.plan,
  instanceMode: init.instanceMode,
  counters: new BigInt64Array(init.counters),
  maxWarm: MAX_WARM_COMPONENTS,
  remote(call: HostCall): HostOutcome {
    const callId = ++nextCallId;
    Atomics.store(flag, 0, 0);
    port.postMessage({ ...call, callId } satisfies HostCall);
    Atomics.wait(flag, 0, 0);
    const reply = receiveMessageOnPort(port)?.message as HostReply | undefined;
    if (!reply || reply.callId !== callId) throw new Error(`Host call bridge out of sync on ${call.iface}.${call.fn}.`);
    return reply.outcome;
  },
  notify(call: HostCall): void {
    // On the results channel, so the main thread handles it before this job's result.
    results.postMessage({ type: 'notify', jobId: currentJob, call } satisfies FromWorker);
  },
  // The thread serves one request: it sleeps until the guest's timer is due (the pool's deadline still stops it).
  wait: (ms) => void Atomics.wait(sleeper, 0, 0, ms),
  // Captured by the pool, which logs it masked.
  stderr: (bytes) => void process.stderr.write(bytes),
});

/**
 * How close to its cap a memory must be for a failure to count as a limit
 * breach: the guest's allocator grows in chunks, so the grow that failed
 * asked for more than what was left. 1/16 of the cap, at least 2 MiB.
 */
function nearCap(memories: WebAssembly.Memory[], limitBytes: number): boolean {
  const slack = Math.max(2 * 1024 * 1024, limitBytes / 16);
  return memories.some((memory) => memory.buffer.byteLength + slack >= limitBytes);
}

/** Loads of components a `prepare` could not use: a request loads them again and reports why. */
const unprepared = new Map<string, Extract<ToWorker, { type: 'prepare' }>['load']>();

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const { jobId, componentKey } = message;
  let phase: FailurePhase = 'load';
  let component: CachedComponent | undefined;
  let used: WarmInstance | undefined;
  let result: FromWorker;
  let leftResources: boolean;
  currentJob = jobId;
  try {
    component = await host.component(componentKey, message.load ?? unprepared.get(componentKey));
    unprepared.delete(componentKey);
    phase = 'instantiate';
    used = host.begin(component, localScopeOf(message.local));
    phase = 'handler';
    const response = await used.root.handler(message.request);
    result = {
      type: 'done',
      jobId,
      response: { status: response.status, headers: response.headers, body: response.body ?? undefined },
    };
  } catch (error) {
    const memoryLimit = used ? nearCap(used.recorder.memories(), message.memoryLimitBytes) : false;
    result = { type: 'failed', jobId, phase, detail: describeFailure(error), ...(memoryLimit ? { memoryLimit } : {}) };
  } finally {
    leftResources = host.end();
  }
  results.postMessage(result);
  // After the response: the restore (or a replacement instance) is off the request's critical path.
  if (component && used && !(result.type === 'failed' && result.memoryLimit)) {
    const discard = result.type === 'failed' ? 'failed' : leftResources ? 'resources-left' : undefined;
    host.recycle(componentKey, component, used, discard);
  }
}

/** Makes a component's instance ready before its first request (the pool's `prepare`). */
async function prepare({ componentKey, load }: Extract<ToWorker, { type: 'prepare' }>): Promise<void> {
  try {
    if (!host.get(componentKey)) unprepared.set(componentKey, load);
    await host.prepare(componentKey, load);
    unprepared.delete(componentKey);
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
      host.forget(message.componentKey);
      unprepared.delete(message.componentKey);
      return;
    }
    return message.type === 'prepare' ? prepare(message) : run(message);
  });
  // Never let one failure stop the chain (its job then times out and the pool replaces this worker).
  handled = handled.catch((error: unknown) => console.error('worker: message handling failed:', error));
});
results.postMessage({ type: 'ready' } satisfies FromWorker);
