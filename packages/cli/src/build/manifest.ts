import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '@alga-psa/protocol';
import { validateManifest } from '@alga-psa/protocol/manifest';

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export interface LoadedManifest {
  path: string;
  manifest: Manifest;
}

/** Reads and validates `<dir>/manifest.json`; errors name the field and the fix. */
export async function loadManifest(dir: string): Promise<LoadedManifest> {
  const file = path.join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ManifestError(
      `No manifest.json in ${dir}. Run this inside an extension folder, or create one with: alga new component <name>`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const result = validateManifest(value);
  if (!result.ok) {
    throw new ManifestError(
      `${file} is invalid:\n${result.errors.map((e) => `  ${e.path || '(root)'}: ${e.message}`).join('\n')}`,
    );
  }
  return { path: file, manifest: result.manifest };
}
