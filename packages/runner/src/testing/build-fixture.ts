/**
 * Builds a real extension component from inline guest JavaScript, for the
 * runner's whole-engine tests. The CLI owns the production build pipeline;
 * tests build directly with componentize-js so they do not depend on it.
 *
 * A build takes several seconds, so results are cached by the sha256 of the
 * source under `node_modules/.cache/alga-test-components/`.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';
import { DISABLED_COMPONENTIZE_FEATURES } from '@alga-psa/protocol';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const WIT_DIR = path.join(REPO_ROOT, 'wit');
const CACHE_DIR = path.join(REPO_ROOT, 'node_modules', '.cache', 'alga-test-components');

export interface FixtureBuild {
  /** The WIT to build against instead of wit/ (e.g. `referenceWorldWit()`). */
  wit?: string;
  /** componentize-js features to disable (default: as `alga build` does; the reference's recipe disables all). */
  disableFeatures?: readonly ComponentizeFeature[];
}

// componentize-js's feature names (its types do not export them).
type ComponentizeFeature = 'stdio' | 'random' | 'clocks' | 'http' | 'fetch-event';

/** The reference host's recipe, `--disable all`. */
export const ALL_FEATURES: readonly ComponentizeFeature[] = ['stdio', 'random', 'clocks', 'http', 'fetch-event'];

// The cache key includes the WIT and the features so a contract change rebuilds every fixture.
async function cacheKey(
  jsSource: string,
  world: string,
  wit: string,
  features: readonly ComponentizeFeature[],
): Promise<string> {
  return createHash('sha256')
    .update(jsSource)
    .update('\0')
    .update(world)
    .update('\0')
    .update(wit)
    .update('\0')
    .update(features.join(','))
    .digest('hex');
}

/** The world a component built as the reference host's authors build it imports: its twelve interfaces. */
export const REFERENCE_WORLD = 'reference-runner';

/**
 * Our WIT as the reference host publishes its package: unversioned, with a
 * world importing exactly the reference's twelve interfaces (REFERENCE-HOST.md §5).
 */
export async function referenceWorldWit(): Promise<string> {
  const ours = await readFile(path.join(WIT_DIR, 'alga-extension.wit'), 'utf8');
  const unversioned = ours.replace(/^package alga:extension@[^;]+;/m, 'package alga:extension;');
  if (unversioned === ours) throw new Error('wit/alga-extension.wit has no versioned package line.');
  const imports = ['context', 'secrets', 'http', 'storage', 'logging', 'ui-proxy', 'user', 'user-v2']
    .concat(['scheduler', 'invoicing', 'clients', 'services'])
    .map((iface) => `  import ${iface};`);
  return [
    unversioned,
    `world ${REFERENCE_WORLD} {`,
    '  use types.{execute-request, execute-response};',
    ...imports,
    '  export handler: func(request: execute-request) -> execute-response;',
    '}',
    '',
  ].join('\n');
}

/** `world`: `runner` (the reference host's exports) or `runner-with-warm-up` (also `warm-up`). */
export async function buildFixture(jsSource: string, world = 'runner', build: FixtureBuild = {}): Promise<Uint8Array> {
  const wit = build.wit ?? (await readFile(path.join(WIT_DIR, 'alga-extension.wit'), 'utf8'));
  const features: readonly ComponentizeFeature[] = build.disableFeatures ?? DISABLED_COMPONENTIZE_FEATURES;
  const file = path.join(CACHE_DIR, `${await cacheKey(jsSource, world, wit, features)}.wasm`);
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const work = await mkdtemp(path.join(tmpdir(), 'alga-fixture-'));
  try {
    const sourcePath = path.join(work, 'guest.js');
    await writeFile(sourcePath, jsSource);
    let witPath = WIT_DIR;
    if (build.wit !== undefined) {
      witPath = path.join(work, 'wit');
      await mkdir(witPath);
      await writeFile(path.join(witPath, 'world.wit'), build.wit);
    }
    const { component } = await componentize({
      sourcePath,
      witPath,
      worldName: world,
      // By default as `alga build` does: the clocks, and otherwise only our WIT.
      disableFeatures: [...features],
    });
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, component);
    await rename(tmp, file);
    return component;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
