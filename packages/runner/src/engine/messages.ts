/** Messages between the pool (main thread) and a worker. */
import type { MessagePort } from 'node:worker_threads';
import type { Capability } from '@alga-psa/protocol';
import type { HostOutcome, HostPlan, LocalScope } from '../host-calls/index.ts';
import type { WitExecuteRequest, WitExecuteResponse } from './convert.ts';

/** `workerData` of every worker: its end of the host-call bridge. */
export interface WorkerInit {
  /** The worker posts `HostCall`s here and reads `HostReply`s synchronously. */
  port: MessagePort;
  /** Where the worker posts everything it reports (`FromWorker`). */
  results: MessagePort;
  /** Int32[0]: 0 while a host call is pending, 1 once the reply was posted. */
  signal: SharedArrayBuffer;
  /** `reset`: restore a warm instance in place after each request; `fresh`: a new instance per request. */
  instanceMode: InstanceMode;
  /** Every interface the guest may import and how this worker answers it (host-calls `hostPlan`). */
  plan: HostPlan;
  /**
   * The pool's instance counters (`INSTANCE_COUNTERS`, one BigInt64 each),
   * shared by every worker: counted with `Atomics.add` where they happen,
   * so no message per request is needed to report them.
   */
  counters: SharedArrayBuffer;
}

export type InstanceMode = 'reset' | 'fresh';

/** What became of the instance that served a request, decided after the response. */
export type Recycled =
  | 'restored'
  | 'memory-grew'
  | 'table-changed'
  | 'global-unwritable'
  | 'failed'
  | 'retired'
  /** The request left host resources the guest never dropped (a timer still pending): replaced, not restored. */
  | 'resources-left';

/** Why an instance is replaced rather than restored, known before the restore is tried. */
export type Discard = Extract<Recycled, 'failed' | 'resources-left'>;

/** The shared instance counters, in buffer order: outcomes, then blocks restored and warm-ups (warm-up.ts). */
export const INSTANCE_COUNTERS = [
  'restored',
  'memory-grew',
  'table-changed',
  'global-unwritable',
  'failed',
  'retired',
  'resources-left',
  'dirtyBlocks',
  'warmedUp',
  'warmUpRefused',
] as const;

export type InstanceCounter = (typeof INSTANCE_COUNTERS)[number];

/** Adds `by` to one of the shared counters (any thread). */
export function countInstance(counters: BigInt64Array, counter: InstanceCounter, by = 1): void {
  Atomics.add(counters, INSTANCE_COUNTERS.indexOf(counter), BigInt(by));
}

/** A compiled component as a worker receives it, once per worker per variant. */
export interface ComponentLoad {
  glue: string;
  modules: Record<string, WebAssembly.Module>;
  /** Whether the modules carry the reset exports (wasm-rewrite's `exposeResetState`). */
  resettable: boolean;
  /** Whether a reset must restore tables (loader.ts `tablesWritable`). */
  tablesWritable: boolean;
}

export type ToWorker =
  | {
      type: 'run';
      jobId: number;
      /** The compiled variant (content hash + memory limit), see loader.ts. */
      componentKey: string;
      /** The cap written into the modules' memories, to tell a limit breach from other traps. */
      memoryLimitBytes: number;
      /** Sent once per worker per hash; afterwards the worker uses its cache. */
      load?: ComponentLoad;
      request: WitExecuteRequest;
      /** What the worker answers request-only calls from. */
      local: LocalJob;
    }
  /** Load a component and make its instance ready (warmed up, snapshotted) before any request needs it. */
  | { type: 'prepare'; componentKey: string; load: ComponentLoad }
  | { type: 'evict'; componentKey: string };

/** A `LocalScope` as it crosses to a worker (the grant as a list). */
export interface LocalJob extends Omit<LocalScope, 'granted'> {
  granted: Capability[];
}

export function localScopeOf(job: LocalJob): LocalScope {
  return { request: job.request, granted: new Set(job.granted), answers: job.answers };
}

export type FailurePhase = 'load' | 'instantiate' | 'handler';

export type FromWorker =
  /** The worker has loaded its modules and takes messages (the pool's spare is then ready). */
  | { type: 'ready' }
  | { type: 'done'; jobId: number; response: WitExecuteResponse }
  /** A `prepare` finished (whether or not the instance could be made). */
  | { type: 'prepared'; componentKey: string }
  /** A one-way host call (no reply), posted before the job's result. */
  | { type: 'notify'; jobId: number; call: HostCall }
  | {
      type: 'failed';
      jobId: number;
      phase: FailurePhase;
      detail: string;
      /** The guest's linear memory had reached its cap when it failed. */
      memoryLimit?: boolean;
    };

export interface HostCall {
  callId: number;
  iface: string;
  fn: string;
  args: unknown[];
}

export interface HostReply {
  callId: number;
  outcome: HostOutcome;
}
