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

// The cache key includes the WIT and the features so a contract change rebuilds every fixture.
async function cacheKey(jsSource: string, world: string): Promise<string> {
  const wit = await readFile(path.join(WIT_DIR, 'alga-extension.wit'), 'utf8');
  return createHash('sha256')
    .update(jsSource)
    .update('\0')
    .update(world)
    .update('\0')
    .update(wit)
    .update('\0')
    .update(DISABLED_COMPONENTIZE_FEATURES.join(','))
    .digest('hex');
}

/** `world`: `runner` (the reference host's exports) or `runner-with-warm-up` (also `warm-up`). */
export async function buildFixture(jsSource: string, world = 'runner'): Promise<Uint8Array> {
  const file = path.join(CACHE_DIR, `${await cacheKey(jsSource, world)}.wasm`);
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const work = await mkdtemp(path.join(tmpdir(), 'alga-fixture-'));
  try {
    const sourcePath = path.join(work, 'guest.js');
    await writeFile(sourcePath, jsSource);
    const { component } = await componentize({
      sourcePath,
      witPath: WIT_DIR,
      worldName: world,
      // As `alga build` does: the clocks, and otherwise only our WIT.
      disableFeatures: [...DISABLED_COMPONENTIZE_FEATURES],
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
