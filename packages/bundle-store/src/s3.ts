import { AwsClient } from 'aws4fetch';
import { BundleIntegrityError, contentHashOf, parseContentHash, type BundleStore } from './index.ts';

export interface S3BundleStoreOptions {
  /** e.g. https://s3.eu-west-1.amazonaws.com, http://minio:9000 */
  endpoint: string;
  bucket: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Key prefix inside the bucket (default `bundles/`). */
  prefix?: string;
  /** Per-request timeout (default 30 s; bundles are large). */
  timeoutMs?: number;
}

/**
 * Bundles in any S3-compatible object store (AWS S3, MinIO, Ceph, R2, …),
 * path-style addressed so self-hosted stores work without DNS tricks.
 * SigV4 signing is aws4fetch's; retries are the store's client's job
 * (bundle reads are cached by the runner, writes happen once at publish).
 */
export class S3BundleStore implements BundleStore {
  readonly #client: AwsClient;
  readonly #base: string;
  readonly #prefix: string;
  readonly #timeoutMs: number;

  constructor(options: S3BundleStoreOptions) {
    const endpoint = new URL(options.endpoint);
    if (endpoint.username || endpoint.password) throw new TypeError('S3 endpoint must not contain credentials.');
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new TypeError(`S3 bucket name ${JSON.stringify(options.bucket)} is not valid.`);
    }
    this.#client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      sessionToken: options.sessionToken,
      region: options.region ?? 'us-east-1',
      service: 's3',
      retries: 0,
    });
    this.#base = `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, '')}/${options.bucket}`;
    this.#prefix = options.prefix ?? 'bundles/';
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  #url(contentHash: string): string {
    return `${this.#base}/${this.#prefix}sha256/${parseContentHash(contentHash)}/component.wasm`;
  }

  async put(bytes: Uint8Array): Promise<string> {
    const contentHash = contentHashOf(bytes);
    const url = this.#url(contentHash);
    const head = await this.#send(url, { method: 'HEAD' });
    if (head.ok) return contentHash; // content-addressed: same key, same bytes
    const response = await this.#send(url, {
      method: 'PUT',
      // A copy typed over a plain ArrayBuffer, as fetch's BodyInit requires; publish-time only.
      body: new Uint8Array(bytes),
      headers: {
        'content-type': 'application/wasm',
        // Signed payload hash: the store rejects a body altered in transit.
        'x-amz-content-sha256': parseContentHash(contentHash),
        'x-amz-meta-content-hash': contentHash,
      },
    });
    if (!response.ok) throw new Error(`S3 PUT ${this.#describe(url)} failed with HTTP ${response.status}.`);
    return contentHash;
  }

  async get(contentHash: string): Promise<Uint8Array | undefined> {
    const url = this.#url(contentHash);
    const response = await this.#send(url, { method: 'GET' });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`S3 GET ${this.#describe(url)} failed with HTTP ${response.status}.`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (contentHashOf(bytes) !== contentHash) throw new BundleIntegrityError(contentHash);
    return bytes;
  }

  async #send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.#client.fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      throw new Error(`S3 request to ${this.#describe(url)} failed: ${(error as Error).name}.`, { cause: error });
    }
  }

  /** Names the object without the query string (which may carry signatures). */
  #describe(url: string): string {
    return new URL(url).pathname;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `S3BundleStore(${this.#base})`;
  }
  toJSON(): string {
    return `S3BundleStore(${this.#base})`;
  }
}
