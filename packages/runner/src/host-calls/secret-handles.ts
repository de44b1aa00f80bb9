/**
 * Secret handles of one execution: the secrets provider mints them, the http
 * provider resolves them. A handle is a random placeholder that means
 * something only inside the execution that minted it (this state dies with
 * the scope), and only on a request to one of its secret's `egress` hosts.
 */
import { randomBytes } from 'node:crypto';
import { parseSecretEgress, SECRET_HANDLE_PREFIX, type SecretEgressEntry } from '@alga-psa/protocol';
import { REDACTED } from '../redact.ts';
import { executionState, type ExecutionScope } from './scope.ts';

export interface SecretHandle {
  readonly handle: string;
  readonly key: string;
  readonly hosts: readonly SecretEgressEntry[];
  /**
   * The plaintext at the envelope version this request started with (the
   * secrets provider's cache entry is pinned for the execution). Resolves to
   * a string, or undefined when it cannot be read (missing, expired, transit
   * failure): the request is then refused rather than sent with the handle.
   */
  readonly resolve: () => Promise<string | undefined>;
}

export class SecretHandles {
  readonly #byHandle = new Map<string, SecretHandle>();
  readonly #byKey = new Map<string, SecretHandle>();

  /** The execution's handle for `key`, minted on first request (one per key per execution). */
  mint(key: string, hosts: readonly SecretEgressEntry[], resolve: () => Promise<string | undefined>): string {
    const existing = this.#byKey.get(key);
    if (existing) return existing.handle;
    // 256 random bits: a handle cannot be guessed, and is worth nothing outside this execution anyway.
    const handle = `${SECRET_HANDLE_PREFIX}${randomBytes(32).toString('base64url')}`;
    const entry: SecretHandle = { handle, key, hosts, resolve };
    this.#byHandle.set(handle, entry);
    this.#byKey.set(key, entry);
    return handle;
  }

  get(handle: string): SecretHandle | undefined {
    return this.#byHandle.get(handle);
  }

  get size(): number {
    return this.#byHandle.size;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretHandles(${REDACTED})`;
  }
  toJSON(): string {
    return REDACTED;
  }
}

export const secretHandles = executionState('secrets.handles', () => new SecretHandles());

/** The `egress` hosts the request names for `key` (parsed), or undefined when the secret is not egress-bound. */
export function egressOf(scope: Pick<ExecutionScope, 'request'>, key: string): SecretEgressEntry[] | undefined {
  const listed = scope.request.secret_egress;
  if (!listed || !Object.hasOwn(listed, key)) return undefined;
  // An entry that does not parse matches nothing (publish refuses such manifests anyway): deny by default.
  return listed[key]!.flatMap((entry) => {
    const parsed = parseSecretEgress(entry);
    return parsed ? [parsed] : [];
  });
}
