/**
 * Regenerates the TypeScript types of the WIT contract (never edited by hand):
 * the guest's into packages/extension-runtime/generated/ (what an extension
 * imports) and the host's into packages/runner/generated/ (what the runner's
 * providers implement).
 *
 * `npm run generate` writes the files; `--check` fails when the committed
 * files differ from what the WIT produces (the test suite checks the same).
 */
import { readFile, rm, mkdir, writeFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const witDir = path.join(root, 'wit');

export const BINDINGS = {
  guest: path.join(root, 'packages/extension-runtime/generated'),
  host: path.join(root, 'packages/runner/generated'),
} as const;

export type BindingSide = keyof typeof BINDINGS;

type Typegen = (
  wit: string,
  opts: { worldName: string; instantiation?: { tag: 'sync' } },
) => Promise<Record<string, Uint8Array>>;

async function typegen(): Promise<{ generateGuestTypes: Typegen; generateHostTypes: Typegen }> {
  const transpileEntry = createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile');
  // jco-transpile reads the WIT through its own preview2-shim, whose 0.26 line
  // no longer preopens the host filesystem; grant it the WIT folder explicitly.
  const shimPath = createRequire(transpileEntry).resolve('@bytecodealliance/preview2-shim/filesystem');
  const shim = (await import(pathToFileURL(shimPath).href)) as { _addPreopen(virtual: string, host: string): void };
  shim._addPreopen(witDir, witDir);
  return (await import(pathToFileURL(transpileEntry).href)) as Awaited<ReturnType<typeof typegen>>;
}

/** The files one side's bindings consist of, by path below its folder. */
export async function generateBindings(side: BindingSide): Promise<Record<string, string>> {
  const jco = await typegen();
  const generate = side === 'guest' ? jco.generateGuestTypes : jco.generateHostTypes;
  // The host instantiates components of either world (`runner-with-warm-up` is `runner` plus
  // `warm-up`) with jco's sync instantiation, as the runner's loader transpiles them.
  const files =
    side === 'guest'
      ? await generate(witDir, { worldName: 'runner' })
      : await generate(witDir, { worldName: 'runner-with-warm-up', instantiation: { tag: 'sync' } });
  const header = '// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.\n';
  return Object.fromEntries(
    Object.entries(files).map(([name, bytes]) => [name, header + Buffer.from(bytes).toString('utf8')]),
  );
}

/** The names of the committed files that differ from what the WIT generates for `side`. */
export async function staleBindings(side: BindingSide): Promise<string[]> {
  const files = await generateBindings(side);
  const existing = (await listFiles(BINDINGS[side])).sort();
  if (Object.keys(files).sort().join() !== existing.join()) return existing.length > 0 ? existing : ['(none)'];
  const differing = await Promise.all(
    existing.map(async (file) =>
      (await readFile(path.join(BINDINGS[side], file), 'utf8')) === files[file] ? [] : [file],
    ),
  );
  return differing.flat();
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
  for (const side of Object.keys(BINDINGS) as BindingSide[]) {
    const outDir = BINDINGS[side];
    if (process.argv.includes('--check')) {
      const stale = await staleBindings(side);
      if (stale.length > 0) {
        console.error(`Generated ${side} bindings are out of date (${stale.join(', ')}); run: npm run generate`);
        process.exitCode = 1;
      } else {
        console.log(`Generated ${side} bindings are up to date.`);
      }
      continue;
    }
    const files = await generateBindings(side);
    await rm(outDir, { recursive: true, force: true });
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(outDir, name)), { recursive: true });
      await writeFile(path.join(outDir, name), text);
    }
    console.log(`Wrote ${Object.keys(files).length} files to ${path.relative(root, outDir)}/`);
  }
}
