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
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLUE_PATCHES, type TranspiledComponent } from './jco-glue.ts';

/** Entries kept (each ~12 MB for a componentize-js guest); the least recently used go first. */
export const TRANSPILE_CACHE_ENTRIES = 32;

const INDEX = 'index.json';
const GLUE = 'glue.js';

interface EntryIndex {
  glue: { sha256: string };
  wasm: Record<string, { sha256: string; size: number }>;
}

export class TranspileCacheError extends Error {}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** jco's version is part of every key: another jco may emit other glue for the same bytes. */
function toolVersion(): string {
  // jco's exports hide its package.json: walk up from its entry point.
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@bytecodealliance/jco')));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name, version } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version: string };
      if (name === '@bytecodealliance/jco') return `jco@${version}`;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the version of @bytecodealliance/jco');
    dir = parent;
  }
}

export class TranspileCache {
  readonly dir: string;
  readonly #maxEntries: number;
  readonly #version = toolVersion();
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

  /** The key for a component's bytes (its sha256 with the transpiler's version and the runner's glue patches). */
  keyFor(bytes: Uint8Array): string {
    return sha256(`${this.#version}\0${GLUE_PATCHES}\0${sha256(bytes)}`);
  }

  async get(key: string): Promise<TranspiledComponent | undefined> {
    await this.open();
    const entry = path.join(this.dir, key);
    let index: EntryIndex;
    try {
      index = JSON.parse(await readFile(path.join(entry, INDEX), 'utf8')) as EntryIndex;
    } catch {
      return undefined;
    }
    try {
      const glue = await readFile(path.join(entry, GLUE), 'utf8');
      if (glue.length === 0 || sha256(glue) !== index.glue.sha256) throw new Error('glue changed');
      const wasm: Record<string, Uint8Array> = {};
      for (const [file, expected] of Object.entries(index.wasm)) {
        const bytes = new Uint8Array(await readFile(path.join(entry, path.basename(file))));
        if (bytes.byteLength !== expected.size || sha256(bytes) !== expected.sha256) throw new Error(`${file} changed`);
        wasm[file] = bytes;
      }
      const now = new Date();
      await utimes(entry, now, now).catch(() => {}); // most recently used: pruned last
      return { glue, wasm };
    } catch {
      await rm(entry, { recursive: true, force: true });
      return undefined;
    }
  }

  async put(key: string, transpiled: TranspiledComponent): Promise<void> {
    await this.open();
    const staging = path.join(this.dir, `.${key}.${randomBytes(6).toString('hex')}`);
    await mkdir(staging, { mode: 0o700 });
    try {
      const index: EntryIndex = { glue: { sha256: sha256(transpiled.glue) }, wasm: {} };
      await writeFile(path.join(staging, GLUE), transpiled.glue);
      for (const [file, bytes] of Object.entries(transpiled.wasm)) {
        if (path.basename(file) !== file || file === GLUE || file === INDEX) throw new Error(`unexpected file ${file}`);
        await writeFile(path.join(staging, file), bytes);
        index.wasm[file] = { sha256: sha256(bytes), size: bytes.byteLength };
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
