import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { checkBundleEntry } from '@alga-psa/protocol';
import { buildExtension, BuildError, type BuildResult } from '../build/index.ts';

export interface PackResult {
  file: string;
  size: number;
  /** `sha256:<hex>` of the archive. */
  sha256: string;
  entries: string[];
  build: BuildResult;
}

const EPOCH = new Date(0);

/**
 * Builds (reusing an unchanged build) and writes the bundle archive
 * (docs/bundle-format.md) to `dist/<name>-<version>.tgz`. The archive is
 * deterministic — sorted entries, fixed modes, mtime 0, no owner names, and
 * no build timestamp in metadata.json — so the same sources give the same
 * bytes and a re-publish is recognised as identical.
 */
export async function packExtension(options: {
  dir: string;
  onProgress?: (message: string) => void;
  force?: boolean;
  beforeComponentize?: () => void | Promise<void>;
}): Promise<PackResult> {
  const dir = path.resolve(options.dir);
  const build = await buildExtension({
    dir,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.force ? { force: true } : {}),
    ...(options.beforeComponentize ? { beforeComponentize: options.beforeComponentize } : {}),
  });
  const { metadata } = build;
  // A stage of its own per call: two packs of one folder at once must not empty each other's.
  await mkdir(path.join(dir, 'dist'), { recursive: true });
  const stage = await mkdtemp(path.join(dir, 'dist', '.alga-pack-'));
  const file = path.join(dir, 'dist', `${metadata.name}-${metadata.version}.tgz`);
  let entries: string[];
  try {
    await cp(path.join(dir, 'manifest.json'), path.join(stage, 'manifest.json'));
    await cp(build.componentPath, path.join(stage, 'component.wasm'));
    const { builtAt: _builtAt, ...stable } = metadata;
    await writeFile(path.join(stage, 'metadata.json'), `${JSON.stringify(stable, null, 2)}\n`);
    const wit = path.join(dir, 'dist', '.alga-build', 'wit', 'alga-extension.wit');
    if (existsSync(wit)) {
      await mkdir(path.join(stage, 'wit'));
      await cp(wit, path.join(stage, 'wit', 'alga-extension.wit'));
    }
    const uiDir = path.join(dir, 'ui');
    if (existsSync(uiDir)) await cp(uiDir, path.join(stage, 'ui'), { recursive: true });

    entries = (await listFiles(stage)).sort();
    for (const entry of entries) {
      const check = checkBundleEntry(entry, 'File');
      if (!check.ok) throw new BuildError(`Cannot pack ${entry}: ${check.message}`);
      // Modes and times come from the checkout and the umask; pin them.
      await chmod(path.join(stage, entry), 0o644);
      await utimes(path.join(stage, entry), EPOCH, EPOCH);
    }

    const partial = `${stage}.tgz`;
    await tar.create(
      { cwd: stage, file: partial, gzip: { level: 9 }, portable: true, mtime: EPOCH, noDirRecurse: true, noPax: true },
      entries,
    );
    await rename(partial, file);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  const bytes = await readFile(file);
  return {
    file,
    size: (await stat(file)).size,
    sha256: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    entries,
    build,
  };
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(root, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}
