/** What the control plane may do: encrypt, never decrypt. */
export interface Encrypter {
  /** Reference to the key that encrypts (`local:<name>`, `vault:<mount>/<name>`). */
  readonly keyRef: string;
  encrypt(plaintext: Uint8Array, context: string): Promise<string>;
}

/** What a runner may do: decrypt, never encrypt. */
export interface Decrypter {
  decrypt(ciphertext: string, context: string): Promise<Uint8Array>;
  /** Cheap reachability check for readiness probes. */
  ready(): Promise<void>;
}

export type TransitErrorReason = 'bad-ciphertext' | 'key-version' | 'unavailable' | 'denied' | 'config';

/** Thrown by every backend. Messages never contain plaintext or key material. */
export class TransitError extends Error {
  readonly reason: TransitErrorReason;
  constructor(reason: TransitErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransitError';
    this.reason = reason;
  }
}
