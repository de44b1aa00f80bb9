/**
 * Bundles the iframe page's script (ui-src/app.ts + @alga-psa/extension-ui) into
 * ui/app.js with esbuild. The output is committed so `alga pack` ships a
 * working ui/ without a UI build step; a unit test checks it is current.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { format, resolveConfig } from 'prettier';

const here = path.dirname(fileURLToPath(import.meta.url));
export const UI_BUNDLE = path.join(here, '../ui/app.js');

export async function bundleUi(): Promise<string> {
  const out = await build({
    entryPoints: [path.join(here, 'app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const text = `// Generated from ui-src/app.ts by ui-src/build.ts. Do not edit.\n/* eslint-disable -- esbuild output, checked against its source by a unit test */\n${out.outputFiles[0]!.text}`;
  // Formatted like the rest of the repository, so `prettier --check .` passes on the committed file.
  return format(text, { ...(await resolveConfig(UI_BUNDLE)), filepath: UI_BUNDLE });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(UI_BUNDLE, await bundleUi());
  console.log(`wrote ${path.relative(process.cwd(), UI_BUNDLE)}`);
}
