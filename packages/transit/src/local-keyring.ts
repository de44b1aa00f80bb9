import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { TransitError, type Decrypter, type Encrypter } from './types.ts';

/*
 * Hand-written rather than a library: this is Vault transit's ciphertext
 * format (`vault:v<N>:base64(nonce | ciphertext | tag)`) over node:crypto's
 * AES-256-GCM, a dozen lines that no package provides in this shape. Sharing
 * the format keeps key versions, rotation and log scrubbing uniform across
 * backends; the keys differ, so moving data to Vault means decrypt + encrypt.
 */

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CIPHERTEXT_RE = /^vault:v(\d+):([A-Za-z0-9+/]+={0,2})$/;

interface KeyFile {
  format: 'alga-local-transit/v1';
  name: string;
  latestVersion: number;
  minDecryptionVersion: number;
  keys: Record<string, { key: string; createdAt: string }>;
}

export class LocalKeyring implements Encrypter, Decrypter {
  readonly keyRef: string;
  readonly #file: string;
  #data: KeyFile;

  private constructor(file: string, data: KeyFile) {
    this.#file = file;
    this.#data = data;
    this.keyRef = `local:${data.name}`;
  }

  /**
   * Opens the key file, creating it (mode 0600, one fresh key) when `create`
   * is set and it does not exist. A key file readable by group or others is
   * refused: the fix is `chmod 600 <file>`.
   */
  static async open(file: string, options: { create?: boolean; name?: string } = {}): Promise<LocalKeyring> {
    let info;
    try {
      info = await stat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (!options.create) {
        throw new TransitError('config', `Transit key file ${file} does not exist.`);
      }
      const data: KeyFile = {
        format: 'alga-local-transit/v1',
        name: options.name ?? 'alga-ext',
        latestVersion: 1,
        minDecryptionVersion: 1,
        keys: { '1': { key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() } },
      };
      await writeKeyFile(file, data);
      return new LocalKeyring(file, data);
    }
    if ((info.mode & 0o077) !== 0) {
      throw new TransitError(
        'config',
        `Transit key file ${file} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${file}`,
      );
    }
    let data: KeyFile;
    try {
      data = JSON.parse(await readFile(file, 'utf8')) as KeyFile;
    } catch {
      // Never echo the parse error: it would quote key material.
      throw new TransitError('config', `Transit key file ${file} is not valid JSON.`);
    }
    if (data.format !== 'alga-local-transit/v1' || !data.keys?.[String(data.latestVersion)]) {
      throw new TransitError('config', `Transit key file ${file} has an unknown format.`);
    }
    return new LocalKeyring(file, data);
  }

  get latestVersion(): number {
    return this.#data.latestVersion;
  }

  async encrypt(plaintext: Uint8Array, context: string): Promise<string> {
    const version = this.#data.latestVersion;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key(version), nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `vault:v${version}:${body.toString('base64')}`;
  }

  async decrypt(ciphertext: string, context: string): Promise<Uint8Array> {
    const match = CIPHERTEXT_RE.exec(ciphertext);
    if (!match) throw new TransitError('bad-ciphertext', 'Ciphertext is not in vault:v<N>:<base64> form.');
    const version = Number(match[1]);
    if (version < this.#data.minDecryptionVersion) {
      throw new TransitError(
        'key-version',
        `Ciphertext uses key version ${version}, below the minimum decryption version ${this.#data.minDecryptionVersion}.`,
      );
    }
    const body = Buffer.from(match[2]!, 'base64');
    if (body.length < NONCE_BYTES + TAG_BYTES) throw new TransitError('bad-ciphertext', 'Ciphertext is truncated.');
    const decipher = createDecipheriv('aes-256-gcm', this.#key(version), body.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new TransitError('bad-ciphertext', 'Ciphertext failed authentication (wrong key, owner or tampered).');
    }
  }

  async ready(): Promise<void> {}

  /** Adds a new key version; new encryptions use it, old ciphertexts still decrypt. */
  async rotate(): Promise<number> {
    const next = this.#data.latestVersion + 1;
    const data: KeyFile = {
      ...this.#data,
      latestVersion: next,
      keys: {
        ...this.#data.keys,
        [String(next)]: { key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() },
      },
    };
    await writeKeyFile(this.#file, data);
    this.#data = data;
    return next;
  }

  /** Re-encrypts a ciphertext under the latest key version without exposing it to the caller. */
  async rewrap(ciphertext: string, context: string): Promise<string> {
    const plaintext = await this.decrypt(ciphertext, context);
    try {
      return await this.encrypt(plaintext, context);
    } finally {
      plaintext.fill(0);
    }
  }

  #key(version: number): Buffer {
    const entry = this.#data.keys[String(version)];
    if (!entry) throw new TransitError('key-version', `Key version ${version} does not exist in ${this.keyRef}.`);
    return Buffer.from(entry.key, 'base64');
  }

  // Key material must never reach a log through util.inspect or JSON.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `LocalKeyring(${this.keyRef}, v${this.#data.latestVersion})`;
  }
  toJSON(): string {
    return `LocalKeyring(${this.keyRef})`;
  }
}

/** Writes atomically with 0600 from the first byte, so no reader ever sees a partial or open file. */
async function writeKeyFile(file: string, data: KeyFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(data, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}
