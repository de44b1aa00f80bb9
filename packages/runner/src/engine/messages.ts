/** Messages between the pool (main thread) and a worker. */
import type { MessagePort } from 'node:worker_threads';
import type { HostOutcome } from '../providers/index.ts';
import type { WitExecuteRequest, WitExecuteResponse } from '../world.ts';

/** `workerData` of every worker: its end of the host-call bridge. */
export interface WorkerInit {
  /** The worker posts `HostCall`s here and reads `HostReply`s synchronously. */
  port: MessagePort;
  /** Int32[0]: 0 while a host call is pending, 1 once the reply was posted. */
  signal: SharedArrayBuffer;
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
      load?: { glue: string; modules: Record<string, WebAssembly.Module> };
      request: WitExecuteRequest;
    }
  | { type: 'evict'; componentKey: string };

export type FailurePhase = 'load' | 'instantiate' | 'handler';

export type FromWorker =
  | { type: 'done'; jobId: number; response: WitExecuteResponse }
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
