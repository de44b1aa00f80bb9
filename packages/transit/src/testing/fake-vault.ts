import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/*
 * A small stand-in for Vault's transit engine, for tests: the documented HTTP
 * paths and `{"errors": [...]}` answers, a real derived key inside (AES-256-GCM
 * under a per-context key from HKDF-SHA256), token and namespace checks, and
 * scripted failures. Listens on 127.0.0.1 only.
 */

export type FakeVaultFailure =
  | { kind: 'status'; status: number; errors?: string[] }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Destroy the connection without an answer. */
  | { kind: 'drop' };

export interface FakeVaultOptions {
  token: string;
  mount?: string;
  keyName?: string;
  /** When set, the mount exists only in this namespace (requests must send X-Vault-Namespace). */
  namespace?: string;
  /** Create the key with derivation (the default, as VaultTransit requires). */
  derived?: boolean;
}

export interface FakeVaultRequest {
  method: string;
  path: string;
  namespace: string | undefined;
  tokenAccepted: boolean;
}

interface Key {
  derived: boolean;
  latestVersion: number;
  minDecryptionVersion: number;
  versions: Map<number, Buffer>;
}

const NONCE = 12;
const TAG = 16;

export class FakeVault {
  /** Token the fake accepts; change it to simulate renewal. */
  token: string;
  health: 'active' | 'standby' | 'perf-standby' | 'sealed' | 'uninitialized' = 'active';
  readonly requests: FakeVaultRequest[] = [];
  readonly mount: string;
  readonly keyName: string;
  readonly namespace: string | undefined;
  readonly #keys = new Map<string, Key>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #failures: { failure: FakeVaultFailure; remaining: number }[] = [];
  #address = '';

  private constructor(options: FakeVaultOptions) {
    this.token = options.token;
    this.mount = options.mount ?? 'transit';
    this.keyName = options.keyName ?? 'alga-ext';
    this.namespace = options.namespace;
    this.#keys.set(this.keyName, {
      derived: options.derived ?? true,
      latestVersion: 1,
      minDecryptionVersion: 1,
      versions: new Map([[1, randomBytes(32)]]),
    });
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: FakeVaultOptions): Promise<FakeVault> {
    const fake = new FakeVault(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.#address = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  get address(): string {
    return this.#address;
  }

  /** Requests that reached a transit path (not sys/health). */
  get transitRequests(): FakeVaultRequest[] {
    return this.requests.filter((r) => !r.path.startsWith('/v1/sys/'));
  }

  /** The next `times` requests (any path) fail this way; Infinity for always. */
  failNext(failure: FakeVaultFailure, times = 1): void {
    this.#failures.push({ failure, remaining: times });
  }

  clearFailures(): void {
    this.#failures = [];
  }

  setMinDecryptionVersion(version: number): void {
    this.#keys.get(this.keyName)!.minDecryptionVersion = version;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const namespaceHeader = header(req, 'x-vault-namespace');
    const tokenAccepted = header(req, 'x-vault-token') === this.token;
    this.requests.push({ method: req.method ?? '', path: url.pathname, namespace: namespaceHeader, tokenAccepted });
    const raw = await readBody(req);

    const scripted = this.#failures[0];
    if (scripted) {
      if (--scripted.remaining <= 0) this.#failures.shift();
      const failure = scripted.failure;
      if (failure.kind === 'hang') return;
      if (failure.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      return send(res, failure.status, { errors: failure.errors ?? [statusText(failure.status)] });
    }

    if (url.pathname === '/v1/sys/health' && req.method === 'GET') return this.#healthAnswer(res);
    if (this.health === 'sealed') return send(res, 503, { errors: ['Vault is sealed'] });
    if (!tokenAccepted) return send(res, 403, { errors: ['permission denied'] });

    // Paths are relative to the namespace: without the right header, the mount does not exist.
    const prefix = `/v1/${this.mount}/`;
    const inNamespace = (namespaceHeader?.replace(/^\/+|\/+$/g, '') || undefined) === this.namespace;
    if (!inNamespace || !url.pathname.startsWith(prefix)) {
      return send(res, 404, { errors: [`no handler for route "${url.pathname.slice(4)}". route entry not found.`] });
    }
    const [action, name, sub] = url.pathname.slice(prefix.length).split('/');
    let body: Record<string, unknown> = {};
    if (req.method === 'POST' && raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(res, 400, { errors: ['failed to parse JSON input: invalid character'] });
      }
    }
    const key = name ? this.#keys.get(name) : undefined;

    if (req.method === 'POST' && action === 'encrypt' && name && !sub) {
      // Without `create` on the path, Vault refuses an upsert of a missing key.
      if (!key) return send(res, 403, { errors: ['permission denied'] });
      const derived = this.#derive(key, key.latestVersion, body.context);
      if ('error' in derived) return send(res, 400, { errors: [derived.error] });
      if (typeof body.plaintext !== 'string') return send(res, 400, { errors: ['missing plaintext to encrypt'] });
      const ciphertext = seal(derived.key, key.latestVersion, Buffer.from(body.plaintext, 'base64'));
      return send(res, 200, { data: { ciphertext, key_version: key.latestVersion } });
    }
    if (req.method === 'POST' && (action === 'decrypt' || action === 'rewrap') && name && !sub) {
      if (!key) return send(res, 400, { errors: ['encryption key not found'] });
      const opened = this.#open(key, body.ciphertext, body.context);
      if ('error' in opened) return send(res, 400, { errors: [opened.error] });
      if (action === 'decrypt') return send(res, 200, { data: { plaintext: opened.plaintext.toString('base64') } });
      const derived = this.#derive(key, key.latestVersion, body.context);
      if ('error' in derived) return send(res, 400, { errors: [derived.error] });
      const ciphertext = seal(derived.key, key.latestVersion, opened.plaintext);
      return send(res, 200, { data: { ciphertext, key_version: key.latestVersion } });
    }
    if (req.method === 'POST' && action === 'keys' && name && sub === 'rotate') {
      if (!key) return send(res, 400, { errors: ['encryption key not found'] });
      key.latestVersion += 1;
      key.versions.set(key.latestVersion, randomBytes(32));
      return send(res, 200, { data: this.#keyInfo(name, key) });
    }
    if (req.method === 'GET' && action === 'keys' && name && !sub) {
      if (!key) return send(res, 404, { errors: [] });
      return send(res, 200, { data: this.#keyInfo(name, key) });
    }
    return send(res, 405, { errors: ['unsupported operation'] });
  }

  #healthAnswer(res: ServerResponse): void {
    const status = { active: 200, standby: 429, 'perf-standby': 473, sealed: 503, uninitialized: 501 }[this.health];
    send(res, status, {
      initialized: this.health !== 'uninitialized',
      sealed: this.health === 'sealed',
      standby: this.health === 'standby' || this.health === 'perf-standby',
    });
  }

  #keyInfo(name: string, key: Key): Record<string, unknown> {
    return {
      name,
      type: 'aes256-gcm96',
      derived: key.derived,
      kdf: key.derived ? 'hkdf_sha256' : undefined,
      latest_version: key.latestVersion,
      min_decryption_version: key.minDecryptionVersion,
      keys: Object.fromEntries([...key.versions.keys()].map((v) => [String(v), 1700000000 + v])),
    };
  }

  #derive(key: Key, version: number, context: unknown): { key: Buffer } | { error: string } {
    const base = key.versions.get(version);
    if (!base) return { error: 'invalid key version' };
    if (!key.derived) return { key: base };
    if (typeof context !== 'string' || context === '') {
      return {
        error:
          "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
      };
    }
    const info = Buffer.from(context, 'base64');
    return { key: Buffer.from(hkdfSync('sha256', base, Buffer.alloc(0), info, 32)) };
  }

  #open(key: Key, ciphertext: unknown, context: unknown): { plaintext: Buffer } | { error: string } {
    const match = typeof ciphertext === 'string' ? /^vault:v(\d+):([A-Za-z0-9+/]+={0,2})$/.exec(ciphertext) : null;
    if (!match) return { error: 'invalid ciphertext: no prefix' };
    const version = Number(match[1]);
    if (version < key.minDecryptionVersion) {
      return { error: 'ciphertext or signature version is disallowed by policy (too old)' };
    }
    const derived = this.#derive(key, version, context);
    if ('error' in derived) return derived;
    const raw = Buffer.from(match[2]!, 'base64');
    if (raw.length < NONCE + TAG) return { error: 'invalid ciphertext: could not decode' };
    try {
      const decipher = createDecipheriv('aes-256-gcm', derived.key, raw.subarray(0, NONCE));
      decipher.setAuthTag(raw.subarray(raw.length - TAG));
      return { plaintext: Buffer.concat([decipher.update(raw.subarray(NONCE, raw.length - TAG)), decipher.final()]) };
    } catch {
      return { error: 'cipher: message authentication failed' };
    }
  }
}

function seal(key: Buffer, version: number, plaintext: Buffer): string {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `vault:v${version}:${body.toString('base64')}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function statusText(status: number): string {
  if (status === 429) return 'request path "transit/": rate limit quota exceeded';
  if (status === 503) return 'Vault is sealed';
  return 'internal error';
}
