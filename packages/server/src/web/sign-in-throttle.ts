/**
 * Failed sign-ins per account and per client address: after `maxFailures`
 * within `windowMs`, that account (or address) is refused until the window
 * ends, whatever the password, so a password cannot be guessed at line
 * speed. Only failures count: people who sign in often are never slowed.
 *
 * Written here rather than with `@fastify/rate-limit` (the gateway's): that
 * counts every request, and counting only failures needs a look before the
 * password is checked and a count after. In memory and per process, like
 * the gateway's limiter: with N server replicas an attacker gets N × the
 * budget; the bounded map forgets the oldest keys first.
 */
export interface SignInThrottleOptions {
  /** Failures an account or address may have per window. Default 10. */
  maxFailures?: number;
  /** Default 15 minutes. */
  windowMs?: number;
  /** Keys remembered at once. Default 10,000. */
  maxKeys?: number;
}

interface Window {
  failures: number;
  endsAt: number;
}

export class SignInThrottle {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;

  constructor(options: SignInThrottleOptions = {}, now: () => number = Date.now) {
    this.#max = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = now;
  }

  /** Seconds until `key` may try again: 0 when it is within its budget. */
  retryAfter(key: string): number {
    const window = this.#windows.get(key);
    if (!window) return 0;
    const now = this.#now();
    if (window.endsAt <= now) {
      this.#windows.delete(key);
      return 0;
    }
    return window.failures >= this.#max ? Math.ceil((window.endsAt - now) / 1000) : 0;
  }

  /** Counts one failed attempt against `key`. */
  failed(key: string): void {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window && window.endsAt > now) {
      window.failures += 1;
      return;
    }
    this.#windows.delete(key);
    this.#windows.set(key, { failures: 1, endsAt: now + this.#windowMs });
    // A Map iterates in insertion order: the first key is the oldest window.
    if (this.#windows.size > this.#maxKeys) this.#windows.delete(this.#windows.keys().next().value!);
  }
}
