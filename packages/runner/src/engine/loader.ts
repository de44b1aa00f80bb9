/**
 * Turns a bundle's content hash into what a worker needs to instantiate it:
 * jco's JS glue (sync instantiation) and the compiled core modules, with
 * their linear memory capped (wasm-rewrite's `capModuleMemory`). Compiling is the
 * expensive step, so compiled variants are cached per (hash, memory limit)
 * and concurrent loads of the same variant share one promise (lru-cache's
 * `fetch` does both). jco's output is cached per hash, so a second memory
 * limit costs one compile, not another transpile.
 */
import { LRUCache } from 'lru-cache';
import { BundleIntegrityError, type BundleStore } from '@alga-psa/bundle-store';
import {
  capModuleMemory,
  DIRTY_EXPORT,
  DIRTY_IMPORT,
  exposeResetState,
  meterFuel,
  MemoryFloorError,
  pagesForMb,
  trackWrites,
} from '@alga-psa/wasm-rewrite';
import { errors } from '../errors.ts';
import { transpileComponent, type TranspiledComponent } from './jco-glue.ts';
import type { InstanceMode } from './messages.ts';
import type { TranspileCache } from './transpile-cache.ts';

export interface LoadedComponent {
  contentHash: string;
  /** Identifies this compiled variant (hash + memory limit) in caches and workers. */
  key: string;
  memoryMb: number;
  /** ES module source exporting `instantiate(getCoreModule, imports, instantiateCore?)`. */
  glue: string;
  /** Core wasm modules by the file name the glue asks for. */
  modules: Record<string, WebAssembly.Module>;
  /**
   * Every module also exports its memories, mutable globals and tables for
   * reset-in-place (wasm-rewrite's `exposeResetState`). False in fresh
   * mode, or when a module holds something the rewriter does not handle:
   * the worker then makes a fresh instance per request for this component.
   */
  resettable: boolean;
  /**
   * Whether some module's code can write a table (or that could not be
   * ruled out); when false, a reset only checks the tables' length.
   */
  tablesWritable: boolean;
  /**
   * Every module counts fuel (wasm-rewrite's `meterFuel`), so the runner may run this
   * component's requests on its own thread (inline.ts). Only when the loader
   * was asked to meter and every module could be rewritten.
   */
  metered: boolean;
}

export interface ComponentLoaderOptions {
  bundleStore: BundleStore;
  /** Compiled variants kept in memory. */
  maxEntries?: number;
  /** Called with a variant's `key` when it leaves the cache, so workers can drop it too. */
  onEvict?: (key: string) => void;
  /** `reset` (default) also rewrites the modules for reset-in-place. */
  instanceMode?: InstanceMode;
  /** Also rewrite the modules to count fuel (wasm-rewrite's `meterFuel`), for inline execution. */
  meter?: boolean;
  /** jco's output kept on disk across restarts; absent: transpiled in every process. */
  transpileCache?: TranspileCache | undefined;
}

interface Transpiled extends TranspiledComponent {
  contentHash: string;
  /** Its transpile cache key, when it came through a cache (the key of its variants derives from it). */
  cacheKey?: string | undefined;
}

async function transpileBundle(contentHash: string, bytes: Uint8Array, cache?: TranspileCache): Promise<Transpiled> {
  // The cache only saves work: a read or write that fails is a transpile like any other.
  const cacheKey = cache?.keyFor(bytes);
  const cached = cacheKey ? await cache!.get(cacheKey).catch(() => undefined) : undefined;
  if (cached) return { contentHash, cacheKey, ...cached };
  let transpiled: TranspiledComponent;
  try {
    transpiled = await transpileComponent(bytes);
  } catch (error) {
    throw errors.invalidComponent({ cause: error });
  }
  if (cacheKey) await cache!.put(cacheKey, transpiled).catch(() => {});
  return { contentHash, cacheKey, ...transpiled };
}

/** Imports a memory but not a write map for it (wasm-rewrite's `DIRTY_IMPORT`). */
function writesUnmarked(module: WebAssembly.Module): boolean {
  const imports = WebAssembly.Module.imports(module);
  return (
    imports.some((d) => d.kind === 'memory') &&
    !imports.some((d) => d.module === DIRTY_IMPORT.module && d.name === DIRTY_IMPORT.name)
  );
}

const hasWriteMap = (module: WebAssembly.Module): boolean =>
  WebAssembly.Module.exports(module).some((d) => d.name === DIRTY_EXPORT);

export function variantKey(contentHash: string, memoryMb: number): string {
  return `${contentHash}#${memoryMb}m`;
}

async function compileVariant(
  transpiled: Transpiled,
  memoryMb: number,
  instanceMode: InstanceMode,
  meter = false,
  cache?: TranspileCache,
): Promise<LoadedComponent> {
  const cacheKey =
    cache && transpiled.cacheKey
      ? cache.variantKeyFor(transpiled.cacheKey, { memoryMb, instanceMode, meter })
      : undefined;
  const cached = cacheKey ? await cache!.getVariant(cacheKey).catch(() => undefined) : undefined;
  if (cached) {
    try {
      const modules: Record<string, WebAssembly.Module> = {};
      for (const [file, bytes] of Object.entries(cached.wasm))
        modules[file] = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
      return loaded(transpiled, memoryMb, modules, cached);
    } catch {
      // Bytes this V8 refuses after all: rewrite as if nothing were cached.
    }
  }
  const capped: Record<string, Uint8Array> = {};
  for (const [file, content] of Object.entries(transpiled.wasm)) {
    try {
      capped[file] = capModuleMemory(content, pagesForMb(memoryMb));
    } catch (error) {
      if (error instanceof MemoryFloorError) throw errors.memoryFloor({ detail: error.message }, { cause: error });
      throw errors.invalidComponent({ cause: error });
    }
  }
  // The reset exports go into the same cached variant: one compile per
  // (hash, memory limit), whichever mode the worker runs it in.
  let resettable = instanceMode === 'reset';
  let tablesWritable = false;
  /** Per module, the bytes to try in order: write-tracking first, then without (see below). */
  const candidates: Record<string, Uint8Array[]> = {};
  for (const [file, content] of Object.entries(capped)) candidates[file] = [content];
  if (resettable) {
    try {
      for (const [file, content] of Object.entries(capped)) {
        const exposed = exposeResetState(content).module;
        candidates[file] = [exposed];
        try {
          const tracking = trackWrites(exposed);
          tablesWritable ||= tracking.writesTables;
          if (tracking.tracked) candidates[file] = [tracking.module, exposed];
        } catch {
          // Not rewritable for write tracking: its memory gets the full
          // compare, and nothing is proven about its tables.
          tablesWritable = true;
        }
      }
    } catch {
      // Something the rewriter does not decode: run this component fresh per request.
      resettable = false;
      for (const [file, content] of Object.entries(capped)) candidates[file] = [content];
    }
  }
  // Inline execution needs both: a snapshot to restore and fuel to stop a spinning guest.
  const meterAll = meter && resettable;
  let metered = meterAll;
  const modules: Record<string, WebAssembly.Module> = {};
  /** The bytes that compiled, per module: what the variant cache keeps. */
  const chosen: Record<string, Uint8Array> = {};
  for (const [file, tries] of Object.entries(candidates)) {
    // Metered versions of the candidates first, then the candidates as they are. Each is
    // rewritten only when it is next to compile: the metering pass over a 12 MB code
    // section takes ~0.2 s, and the later candidates are only needed if V8 refuses one.
    const attempts = [
      ...(meterAll ? tries.map((content) => ({ metered: true, bytes: () => meterFuel(content) })) : []),
      ...tries.map((content) => ({ metered: false, bytes: () => content })),
    ];
    for (const [i, attempt] of attempts.entries()) {
      try {
        const bytes = attempt.bytes();
        modules[file] = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
        chosen[file] = bytes;
        if (!attempt.metered) metered = false;
        break;
      } catch (error) {
        // Not meterable (RangeError), or a rewritten module V8 refuses (a rewriter bug): try the next.
        if (i === attempts.length - 1) throw errors.invalidComponent({ cause: error });
      }
    }
  }
  if (cacheKey)
    await cache!.putVariant(cacheKey, { wasm: chosen, resettable, tablesWritable, metered }).catch(() => {});
  return loaded(transpiled, memoryMb, modules, { resettable, tablesWritable, metered });
}

function loaded(
  transpiled: Transpiled,
  memoryMb: number,
  modules: Record<string, WebAssembly.Module>,
  found: { resettable: boolean; tablesWritable: boolean; metered: boolean },
): LoadedComponent {
  let { resettable, metered } = found;
  // A module writing into a tracked memory without marking its writes (its own rewrite
  // failed) would defeat that memory's write map: such a component runs fresh per request.
  if (resettable && Object.values(modules).some(writesUnmarked) && Object.values(modules).some(hasWriteMap)) {
    resettable = false;
    metered = false;
  }
  return {
    contentHash: transpiled.contentHash,
    key: variantKey(transpiled.contentHash, memoryMb),
    memoryMb,
    glue: transpiled.glue,
    modules,
    resettable,
    tablesWritable: found.tablesWritable,
    metered,
  };
}

/** Transpiles and compiles a component in one go (tests and tools). */
export async function compileComponent(
  contentHash: string,
  bytes: Uint8Array,
  memoryMb = 128,
  instanceMode: InstanceMode = 'reset',
  meter = false,
): Promise<LoadedComponent> {
  return compileVariant(await transpileBundle(contentHash, bytes), memoryMb, instanceMode, meter);
}

export class ComponentLoader {
  readonly #transpiled: LRUCache<string, Transpiled>;
  readonly #compiled: LRUCache<string, LoadedComponent, { contentHash: string; memoryMb: number }>;

  constructor(options: ComponentLoaderOptions) {
    const { bundleStore, onEvict, transpileCache } = options;
    const instanceMode = options.instanceMode ?? 'reset';
    const meter = options.meter ?? false;
    this.#transpiled = new LRUCache<string, Transpiled>({
      // jco's output holds the raw module bytes; a few hashes are enough to
      // serve a second memory limit without transpiling again.
      max: 4,
      fetchMethod: async (contentHash) => {
        let bytes: Uint8Array | undefined;
        try {
          bytes = await bundleStore.get(contentHash);
        } catch (error) {
          if (error instanceof BundleIntegrityError) throw errors.bundleHashMismatch({ cause: error });
          throw error;
        }
        if (!bytes) throw errors.bundleNotFound();
        return transpileBundle(contentHash, bytes, transpileCache);
      },
    });
    this.#compiled = new LRUCache<string, LoadedComponent, { contentHash: string; memoryMb: number }>({
      max: options.maxEntries ?? 32,
      fetchMethod: async (_key, _stale, { context }) => {
        // fetch resolves undefined only when aborted, which this loader never does.
        const transpiled = (await this.#transpiled.fetch(context.contentHash))!;
        return compileVariant(transpiled, context.memoryMb, instanceMode, meter, transpileCache);
      },
      ...(onEvict ? { dispose: (_value: LoadedComponent, key: string) => onEvict(key) } : {}),
    });
  }

  async load(contentHash: string, memoryMb: number): Promise<LoadedComponent> {
    const loaded = await this.#compiled.fetch(variantKey(contentHash, memoryMb), {
      context: { contentHash, memoryMb },
    });
    // fetch resolves undefined only when aborted, which this loader never does.
    return loaded!;
  }

  clear(): void {
    this.#compiled.clear();
    this.#transpiled.clear();
  }
}
