/**
 * jco's transpile output (glue + core modules) kept on disk by the component's
 * sha256, so a runner that restarts or joins later, `alga test` and the test
 * suite do not transpile the same 12 MB component again (2–4 s of CPU each,
 * docs/perf/040-transpile-cache.md).
 *
 * What is cached is code the runner executes, so the directory must be the
 * runner's own: it is created 0700 and refused when another user owns it or
 * others may write to it. An entry is written to a temporary directory and
 * renamed into place (never seen half-written), and its files are checked
 * against the sizes and hashes it recorded before use; a damaged entry is
 * dropped and transpiled again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TranspiledComponent } from './jco-glue.ts';

/** Entries kept (~12 MB each for a componentize-js guest); the least recently used go first. */
export const TRANSPILE_CACHE_ENTRIES = 48;

const INDEX = 'index.json';
const GLUE = 'glue.js';

interface EntryIndex {
  files: Record<string, { sha256: string; size: number }>;
  meta: unknown;
}

/** A loaded variant's rewritten modules (the bytes that compiled) and what the rewrites found. */
export interface RewrittenVariant {
  wasm: Record<string, Uint8Array>;
  resettable: boolean;
  tablesWritable: boolean;
  metered: boolean;
}

export class TranspileCacheError extends Error {}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** The directory of a package's entry point (its exports may hide its package.json). */
function packageDir(specifier: string, name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(specifier)));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name)
      return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package directory of ${name}`);
    dir = parent;
  }
}

/**
 * What the cached output depends on besides the component: jco's version, and the code of
 * the glue patches and of the rewriters, hashed (not a version string someone must remember
 * to bump); V8's version too for variants, which hold bytes V8 accepted.
 */
function producers(): { transpile: string; rewrite: string } {
  const jco = JSON.parse(
    readFileSync(path.join(packageDir('@bytecodealliance/jco', '@bytecodealliance/jco'), 'package.json'), 'utf8'),
  ) as {
    version: string;
  };
  // This file's own extension: .ts in the repository, .js in the published package.
  const ext = path.extname(fileURLToPath(import.meta.url));
  const glue = readFileSync(fileURLToPath(new URL(`./jco-glue${ext}`, import.meta.url)));
  const rewriteDir = path.dirname(fileURLToPath(import.meta.resolve('@alga-psa/wasm-rewrite')));
  const rewriters = createHash('sha256');
  for (const name of readdirSync(rewriteDir).sort()) {
    if (/\.(ts|js)$/.test(name) && !/\.test\.|\.d\.ts$/.test(name))
      rewriters.update(name).update(readFileSync(path.join(rewriteDir, name)));
  }
  const transpile = sha256(`jco@${jco.version}\0${sha256(glue)}`);
  return { transpile, rewrite: sha256(`${transpile}\0${rewriters.digest('hex')}\0v8@${process.versions.v8}`) };
}

export class TranspileCache {
  readonly dir: string;
  readonly #maxEntries: number;
  readonly #producers = producers();
  #ready: Promise<void> | undefined;

  constructor(dir: string, options: { maxEntries?: number } = {}) {
    this.dir = path.resolve(dir);
    this.#maxEntries = options.maxEntries ?? TRANSPILE_CACHE_ENTRIES;
  }

  /** Creates the directory 0700, or checks that an existing one is this user's alone; throws `TranspileCacheError`. */
  open(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const info = await lstat(this.dir);
      const uid = process.getuid?.();
      if (!info.isDirectory()) throw new TranspileCacheError(`${this.dir} is not a directory.`);
      if (uid !== undefined && info.uid !== uid)
        throw new TranspileCacheError(
          `${this.dir} belongs to another user (uid ${info.uid}); use a directory of your own.`,
        );
      if ((info.mode & 0o022) !== 0)
        throw new TranspileCacheError(
          `${this.dir} can be written by other users (mode ${(info.mode & 0o777).toString(8)}); run: chmod 700 ${this.dir}`,
        );
    })();
    return this.#ready;
  }

  /** The transpile entry's key for a component's bytes. */
  keyFor(bytes: Uint8Array): string {
    return sha256(`t\0${this.#producers.transpile}\0${sha256(bytes)}`);
  }

  /** The key of one rewritten variant of the component whose transpile key is `transpileKey`. */
  variantKeyFor(transpileKey: string, variant: { memoryMb: number; instanceMode: string; meter: boolean }): string {
    const { memoryMb, instanceMode, meter } = variant;
    return sha256(`v\0${this.#producers.rewrite}\0${transpileKey}\0${memoryMb}\0${instanceMode}\0${meter}`);
  }

  async get(key: string): Promise<TranspiledComponent | undefined> {
    const entry = await this.#read(key);
    if (!entry) return undefined;
    const { [GLUE]: glue, ...wasm } = entry.files;
    if (!glue || glue.byteLength === 0) return undefined;
    return { glue: Buffer.from(glue).toString('utf8'), wasm };
  }

  async put(key: string, transpiled: TranspiledComponent): Promise<void> {
    await this.#write(key, { [GLUE]: Buffer.from(transpiled.glue, 'utf8'), ...transpiled.wasm }, null);
  }

  async getVariant(key: string): Promise<RewrittenVariant | undefined> {
    const entry = await this.#read(key);
    if (!entry) return undefined;
    const meta = entry.meta as Omit<RewrittenVariant, 'wasm'>;
    return {
      wasm: entry.files,
      resettable: meta.resettable,
      tablesWritable: meta.tablesWritable,
      metered: meta.metered,
    };
  }

  async putVariant(key: string, variant: RewrittenVariant): Promise<void> {
    const { wasm, ...meta } = variant;
    await this.#write(key, wasm, meta);
  }

  async #read(key: string): Promise<{ files: Record<string, Uint8Array>; meta: unknown } | undefined> {
    await this.open();
    const entry = path.join(this.dir, key);
    let index: EntryIndex;
    try {
      index = JSON.parse(await readFile(path.join(entry, INDEX), 'utf8')) as EntryIndex;
    } catch {
      return undefined;
    }
    try {
      const files: Record<string, Uint8Array> = {};
      for (const [file, expected] of Object.entries(index.files)) {
        const bytes = new Uint8Array(await readFile(path.join(entry, path.basename(file))));
        if (bytes.byteLength !== expected.size || sha256(bytes) !== expected.sha256) throw new Error(`${file} changed`);
        files[file] = bytes;
      }
      const now = new Date();
      await utimes(entry, now, now).catch(() => {}); // most recently used: pruned last
      return { files, meta: index.meta };
    } catch {
      await rm(entry, { recursive: true, force: true });
      return undefined;
    }
  }

  async #write(key: string, files: Record<string, Uint8Array>, meta: unknown): Promise<void> {
    await this.open();
    const staging = path.join(this.dir, `.${key}.${randomBytes(6).toString('hex')}`);
    await mkdir(staging, { mode: 0o700 });
    try {
      const index: EntryIndex = { files: {}, meta };
      for (const [file, bytes] of Object.entries(files)) {
        if (path.basename(file) !== file || file === INDEX || file.startsWith('.'))
          throw new Error(`unexpected file ${file}`);
        await writeFile(path.join(staging, file), bytes);
        index.files[file] = { sha256: sha256(bytes), size: bytes.byteLength };
      }
      // The index last: an entry without one is never read.
      await writeFile(path.join(staging, INDEX), JSON.stringify(index));
      await rename(staging, path.join(this.dir, key)).catch(async (error: NodeJS.ErrnoException) => {
        // Another process put the same entry first: theirs is as good.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    await this.#prune();
  }

  async #prune(): Promise<void> {
    const all = await readdir(this.dir);
    // A staging directory an hour old belongs to a process that died while writing it.
    for (const name of all.filter((n) => n.startsWith('.'))) {
      const info = await stat(path.join(this.dir, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > 3_600_000)
        await rm(path.join(this.dir, name), { recursive: true, force: true });
    }
    const names = all.filter((name) => !name.startsWith('.'));
    if (names.length <= this.#maxEntries) return;
    const entries = await Promise.all(
      names.map(async (name) => ({
        name,
        mtime: (await stat(path.join(this.dir, name)).catch(() => undefined))?.mtimeMs ?? 0,
      })),
    );
    entries.sort((a, b) => b.mtime - a.mtime);
    for (const { name } of entries.slice(this.#maxEntries))
      await rm(path.join(this.dir, name), { recursive: true, force: true });
  }
}
