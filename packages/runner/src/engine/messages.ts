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
      contentHash: string;
      /** Sent once per worker per hash; afterwards the worker uses its cache. */
      load?: { glue: string; modules: Record<string, WebAssembly.Module> };
      request: WitExecuteRequest;
    }
  | { type: 'evict'; contentHash: string };

export type FailurePhase = 'load' | 'instantiate' | 'handler';

export type FromWorker =
  | { type: 'done'; jobId: number; response: WitExecuteResponse }
  | { type: 'failed'; jobId: number; phase: FailurePhase; detail: string };

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
