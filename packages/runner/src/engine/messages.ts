/** Messages between the pool (main thread) and a worker. */
import type { MessagePort } from 'node:worker_threads';
import type { Capability, ExecuteRequest } from '@alga-psa/protocol';
import type { HostOutcome } from '../providers/index.ts';
import type { WitExecuteRequest, WitExecuteResponse } from '../world.ts';

/** `workerData` of every worker: its end of the host-call bridge. */
export interface WorkerInit {
  /** The worker posts `HostCall`s here and reads `HostReply`s synchronously. */
  port: MessagePort;
  /** Int32[0]: 0 while a host call is pending, 1 once the reply was posted. */
  signal: SharedArrayBuffer;
  /** `reset`: restore a warm instance in place after each request; `fresh`: a new instance per request. */
  instanceMode: InstanceMode;
  /**
   * Answer context, config and random inside the worker, and post logging
   * calls without waiting (see providers' WORKER_LOCAL_INTERFACES and
   * ONE_WAY_INTERFACES). Off: every call is a blocking bridge round trip.
   */
  localHostCalls: boolean;
}

export type InstanceMode = 'reset' | 'fresh';

/** What became of the instance that served a request, reported after the response. */
export type Recycled = 'restored' | 'memory-grew' | 'table-changed' | 'global-unwritable' | 'failed' | 'retired';

export type ToWorker =
  | {
      type: 'run';
      jobId: number;
      /** The compiled variant (content hash + memory limit), see loader.ts. */
      componentKey: string;
      /** The cap written into the modules' memories, to tell a limit breach from other traps. */
      memoryLimitBytes: number;
      /** Sent once per worker per hash; afterwards the worker uses its cache. */
      load?: {
        glue: string;
        modules: Record<string, WebAssembly.Module>;
        /** Whether the modules carry the reset exports (wasm/memory-limit.ts `exposeResetState`). */
        resettable: boolean;
        /** Whether a reset must restore tables (loader.ts `tablesWritable`). */
        tablesWritable: boolean;
      };
      request: WitExecuteRequest;
      /** The request data the worker-local interfaces answer from (when `localHostCalls`). */
      local?: { request: Pick<ExecuteRequest, 'context' | 'config'>; granted: Capability[] };
    }
  | { type: 'evict'; componentKey: string };

export type FailurePhase = 'load' | 'instantiate' | 'handler';

export type FromWorker =
  | { type: 'done'; jobId: number; response: WitExecuteResponse }
  /** A one-way host call (no reply), posted before the job's result. */
  | { type: 'notify'; jobId: number; call: HostCall }
  | {
      type: 'failed';
      jobId: number;
      phase: FailurePhase;
      detail: string;
      /** The guest's linear memory had reached its cap when it failed. */
      memoryLimit?: boolean;
    }
  | {
      /** Sent after the response, once the instance was restored or dropped. */
      type: 'recycled';
      jobId: number;
      outcome: Recycled;
      /** Pages copied back from the snapshot (reset mode). */
      dirtyPages: number;
      /** Whether a fresh instance is now waiting for this component. */
      prepared: boolean;
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
