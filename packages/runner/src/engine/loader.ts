/**
 * Turns a bundle's content hash into what a worker needs to instantiate it:
 * jco's JS glue (sync instantiation) and the compiled core modules. Compiling
 * is the expensive step, so results are cached per hash and concurrent loads
 * of the same hash share one promise (lru-cache's `fetch` does both).
 */
import { LRUCache } from 'lru-cache';
import { transpile } from '@bytecodealliance/jco';
import { AlgaError } from '@alga-psa/protocol';
import { BundleIntegrityError, type BundleStore } from '@alga-psa/bundle-store';

export interface LoadedComponent {
  contentHash: string;
  /** ES module source exporting `instantiate(getCoreModule, imports, instantiateCore?)`. */
  glue: string;
  /** Core wasm modules by the file name the glue asks for. */
  modules: Record<string, WebAssembly.Module>;
}

export interface ComponentLoaderOptions {
  bundleStore: BundleStore;
  /** Compiled components kept in memory. */
  maxEntries?: number;
  /** Called when a component leaves the cache, so workers can drop it too. */
  onEvict?: (contentHash: string) => void;
}

/** The name jco gives the glue and core modules (`component.js`, `component.core.wasm`). */
const NAME = 'component';

export async function compileComponent(contentHash: string, bytes: Uint8Array): Promise<LoadedComponent> {
  let files: Record<string, Uint8Array>;
  try {
    ({ files } = await transpile(bytes, {
      name: NAME,
      // Sync instantiation: the host `handler` call and the guest's imports
      // stay synchronous, which the worker's Atomics bridge relies on.
      instantiation: 'sync',
      noTypescript: true,
      quiet: true,
    }));
  } catch (error) {
    throw new AlgaError('ALGA_INVALID_COMPONENT', undefined, { cause: error });
  }
  const glueBytes = files[`${NAME}.js`];
  if (!glueBytes) throw new AlgaError('ALGA_INVALID_COMPONENT');
  const modules: Record<string, WebAssembly.Module> = {};
  for (const [file, content] of Object.entries(files)) {
    if (!file.endsWith('.wasm')) continue;
    try {
      modules[file] = await WebAssembly.compile(content as Uint8Array<ArrayBuffer>);
    } catch (error) {
      throw new AlgaError('ALGA_INVALID_COMPONENT', undefined, { cause: error });
    }
  }
  return { contentHash, glue: Buffer.from(glueBytes).toString('utf8'), modules };
}

export class ComponentLoader {
  readonly #cache: LRUCache<string, LoadedComponent>;

  constructor(options: ComponentLoaderOptions) {
    const { bundleStore, onEvict } = options;
    this.#cache = new LRUCache<string, LoadedComponent>({
      max: options.maxEntries ?? 32,
      fetchMethod: async (contentHash) => {
        let bytes: Uint8Array | undefined;
        try {
          bytes = await bundleStore.get(contentHash);
        } catch (error) {
          if (error instanceof BundleIntegrityError) {
            throw new AlgaError('ALGA_BUNDLE_HASH_MISMATCH', undefined, { cause: error });
          }
          throw error;
        }
        if (!bytes) throw new AlgaError('ALGA_BUNDLE_NOT_FOUND');
        return compileComponent(contentHash, bytes);
      },
      ...(onEvict ? { dispose: (_value: LoadedComponent, key: string) => onEvict(key) } : {}),
    });
  }

  async load(contentHash: string): Promise<LoadedComponent> {
    const loaded = await this.#cache.fetch(contentHash);
    // fetch resolves undefined only when aborted, which this loader never does.
    if (!loaded) throw new AlgaError('ALGA_INTERNAL');
    return loaded;
  }

  clear(): void {
    this.#cache.clear();
  }
}
