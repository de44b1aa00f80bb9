import path from 'node:path';
import { loadManifest } from '../build/manifest.ts';
import type { Manifest } from '@alga-psa/protocol';

/** The extension folder a command works on (`-C <dir>`, default the current folder). */
export async function loadProject(dir = '.'): Promise<{ dir: string; manifest: Manifest }> {
  const resolved = path.resolve(dir);
  const { manifest } = await loadManifest(resolved);
  return { dir: resolved, manifest };
}
