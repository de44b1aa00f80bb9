/**
 * The WASI a guest gets without a capability (protocol's
 * `AMBIENT_WASI_INTERFACES`): the host's wall and monotonic clocks at 1 ms
 * resolution, pollables for the engine's timers, and a stderr stream. Every
 * thread that runs guests builds its own: nothing here needs the main
 * thread, and nothing here holds tenant data.
 *
 * Waiting is the thread's business (`wait`): a worker blocks until the timer
 * is due (the pool's deadline still stops it), while the main thread's inline
 * path never waits and hands the request to a worker instead.
 *
 * Resources the guest creates and does not drop by the end of its request
 * (a timer still pending when it answered) would outlive the request in the
 * glue's handle tables, so the ledger counts them and the guest host
 * replaces such an instance instead of restoring it.
 */
import { CLOCK_RESOLUTION_NS } from '@alga-psa/protocol';
import type { GuestImports } from '../engine/jco-glue.ts';

export interface WasiHostOptions {
  /** Waits up to `ms` for a due timer; throws to give up (the guest traps). */
  wait(ms: number): void;
  /** The guest wrote these bytes to stderr. */
  stderr(bytes: Uint8Array): void;
}

/** Resources handed to guests on this thread and not yet dropped by them. */
export interface ResourceLedger {
  live: number;
}

const RESOLUTION = BigInt(CLOCK_RESOLUTION_NS);

/** Monotonic time in ns, coarsened to the resolution guests get. */
const monotonicNow = (): bigint => (process.hrtime.bigint() / RESOLUTION) * RESOLUTION;

/** A WASI `stream-error` result, as jco's glue lowers a thrown `payload`. */
const closed = () => Object.assign(new Error('stream closed'), { payload: { tag: 'closed' } });

/** Bytes one write may carry (what `check-write` grants): a guest cannot make the host allocate more. */
const WRITE_PERMIT = 65_536;

/** `length` as a number when within the permit; a larger write closes the stream, as WASI lets it. */
function permitted(length: number | bigint): number {
  if (length > WRITE_PERMIT) throw closed();
  return Number(length);
}

export function createWasiHost(options: WasiHostOptions): { imports: GuestImports; ledger: ResourceLedger } {
  const ledger: ResourceLedger = { live: 0 };
  const dispose = Symbol.dispose;

  // A WeakSet, not a private field: the glue may make objects of these classes itself.
  const counted = new WeakSet<object>();

  /** Counted from creation until the guest drops it (jco calls its dispose). */
  class Resource {
    constructor() {
      ledger.live++;
      counted.add(this);
    }
    [dispose](): void {
      if (!counted.delete(this)) return;
      ledger.live--;
    }
  }

  class Pollable extends Resource {
    readonly at: bigint;
    constructor(at: bigint) {
      super();
      this.at = at;
    }
    ready(): boolean {
      return process.hrtime.bigint() >= this.at;
    }
    block(): void {
      while (!this.ready()) options.wait(msUntil(this.at));
    }
  }

  const msUntil = (at: bigint): number => Math.max(1, Math.ceil(Number(at - process.hrtime.bigint()) / 1e6));

  class WasiError extends Resource {
    toDebugString(): string {
      return 'error';
    }
  }

  class OutputStream extends Resource {
    checkWrite(): bigint {
      return BigInt(WRITE_PERMIT);
    }
    write(contents: Uint8Array): void {
      permitted(contents.length);
      options.stderr(contents);
    }
    blockingWriteAndFlush(contents: Uint8Array): void {
      permitted(contents.length);
      options.stderr(contents);
    }
    writeZeroes(len: bigint): void {
      options.stderr(new Uint8Array(permitted(len)));
    }
    blockingWriteZeroesAndFlush(len: bigint): void {
      options.stderr(new Uint8Array(permitted(len)));
    }
    flush(): void {}
    blockingFlush(): void {}
    splice(): bigint {
      throw closed();
    }
    blockingSplice(): bigint {
      throw closed();
    }
    subscribe(): Pollable {
      return new Pollable(0n);
    }
  }

  class InputStream extends Resource {
    read(): Uint8Array {
      throw closed();
    }
    blockingRead(): Uint8Array {
      throw closed();
    }
    skip(): bigint {
      throw closed();
    }
    blockingSkip(): bigint {
      throw closed();
    }
    subscribe(): Pollable {
      return new Pollable(0n);
    }
  }

  function poll(pollables: Pollable[]): Uint32Array {
    if (pollables.length === 0) throw new Error('wasi:io/poll.poll was given no pollables.');
    for (;;) {
      const ready: number[] = [];
      pollables.forEach((pollable, i) => pollable.ready() && ready.push(i));
      if (ready.length > 0) return Uint32Array.from(ready);
      options.wait(msUntil(pollables.reduce((soonest, p) => (p.at < soonest ? p.at : soonest), pollables[0]!.at)));
    }
  }

  const imports: Record<string, Record<string, unknown>> = {
    'wasi:clocks/wall-clock': {
      now: () => {
        const ms = Date.now();
        return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: CLOCK_RESOLUTION_NS }),
    },
    'wasi:clocks/monotonic-clock': {
      now: monotonicNow,
      resolution: () => RESOLUTION,
      subscribeInstant: (at: bigint) => new Pollable(at),
      subscribeDuration: (duration: bigint) => new Pollable(process.hrtime.bigint() + duration),
    },
    'wasi:io/poll': { Pollable, poll },
    'wasi:io/error': { Error: WasiError },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:cli/stderr': { getStderr: () => new OutputStream() },
  };
  return { imports: imports as GuestImports, ledger };
}
