/**
 * Regenerates the guest SDK's TypeScript types from the WIT contract into
 * packages/extension-runtime/generated/ (never edited by hand).
 *
 * `npm run generate` writes the files; `--check` (run by the test suite) fails
 * when the committed files differ from what the WIT produces.
 */
import { readFile, rm, mkdir, writeFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const witDir = path.join(root, 'wit');
const outDir = path.join(root, 'packages/extension-runtime/generated');

export async function generateGuestBindings(): Promise<Record<string, string>> {
  const transpileEntry = createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile');
  // jco-transpile reads the WIT through its own preview2-shim, whose 0.26 line
  // no longer preopens the host filesystem; grant it the WIT folder explicitly.
  const shimPath = createRequire(transpileEntry).resolve('@bytecodealliance/preview2-shim/filesystem');
  const shim = (await import(pathToFileURL(shimPath).href)) as { _addPreopen(virtual: string, host: string): void };
  shim._addPreopen(witDir, witDir);
  const { generateGuestTypes } = (await import(pathToFileURL(transpileEntry).href)) as {
    generateGuestTypes(wit: string, opts: { worldName: string }): Promise<Record<string, Uint8Array>>;
  };
  const files = await generateGuestTypes(witDir, { worldName: 'runner' });
  const header = '// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.\n';
  return Object.fromEntries(
    Object.entries(files).map(([name, bytes]) => [name, header + Buffer.from(bytes).toString('utf8')]),
  );
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    ),
  );
  return nested.flat();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = await generateGuestBindings();
  if (process.argv.includes('--check')) {
    const existing = (await listFiles(outDir)).sort();
    const stale =
      Object.keys(files).sort().join() !== existing.join()
        ? existing
        : (
            await Promise.all(
              existing.map(async (f) => ((await readFile(path.join(outDir, f), 'utf8')) === files[f] ? null : f)),
            )
          ).filter(Boolean);
    if (stale.length > 0) {
      console.error(`Generated bindings are out of date (${stale.join(', ')}); run: npm run generate`);
      process.exit(1);
    }
    console.log('Generated bindings are up to date.');
  } else {
    await rm(outDir, { recursive: true, force: true });
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(outDir, name)), { recursive: true });
      await writeFile(path.join(outDir, name), text);
    }
    console.log(`Wrote ${Object.keys(files).length} files to ${path.relative(root, outDir)}/`);
  }
}
