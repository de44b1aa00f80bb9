import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plugin } from 'esbuild';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_CAPABILITIES,
  DISABLED_COMPONENTIZE_FEATURES,
  WIT_VERSION,
  WORLD_INTERFACES,
  ambientWasiInterface,
  parseImportName,
  capabilityForInterface,
  classifyInterface,
  describeNotRequested,
  type Capability,
  egressOutsideAllowedHosts,
} from '@alga-psa/protocol';
import { loadManifest, type LoadedManifest } from './manifest.ts';
import { entryShim, extensionWorld, interfacesFor } from './shim.ts';
import { checkToolchain, type ToolchainVersions } from './toolchain.ts';
import { generateTypes, TYPES_FILE } from './types.ts';
import { typeCheck, type TypeProblem } from './typecheck.ts';

export { checkToolchain, ToolchainError, TOOLCHAIN } from './toolchain.ts';
export { loadManifest, ManifestError } from './manifest.ts';
export { generateTypes, TYPES_FILE } from './types.ts';
export { bundledSdkDir, findPackageDir } from './typecheck.ts';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The WIT contract the runner hosts: inside the published CLI package, else this repository's wit/. */
export const WIT_DIR = existsSync(path.join(cliRoot, 'wit'))
  ? path.join(cliRoot, 'wit')
  : path.resolve(cliRoot, '../../wit');

const BUILD_WORLD = 'extension';

/** Only the clocks on: beyond time, a guest's only door to the world is our WIT. */
const DISABLED_FEATURES = DISABLED_COMPONENTIZE_FEATURES;

export interface BuildMetadata {
  name: string;
  version: string;
  contentHash: string;
  size: number;
  /** Hash of everything that went into the component; equal hash → same output. */
  inputHash: string;
  witPackage: string;
  toolchain: ToolchainVersions;
  /** The WIT interfaces the code imports (the engine also imports the ambient WASI clocks, protocol's wasi.ts). */
  imports: string[];
  capabilities: Capability[];
  builtAt: string;
}

export interface BuildResult {
  metadata: BuildMetadata;
  componentPath: string;
  metadataPath: string;
  /** True when the previous output was reused because no input changed. */
  cached: boolean;
  durationMs: number;
  /** What the author should know but that does not stop the build (e.g. imports beyond the manifest). */
  warnings: string[];
}

export interface BuildOptions {
  /** Extension folder holding manifest.json and the entry (src/index.ts, or a reference layout's; see ENTRY_CANDIDATES). */
  dir: string;
  /** Progress lines ("bundling…") for long steps. */
  onProgress?: (message: string) => void;
  /** Rebuild even when inputs did not change. */
  force?: boolean;
  /** Type-check the component's code against the manifest's types (default true). */
  typeCheck?: boolean;
  /** Called when the inputs changed and the slow componentize step is next; throwing stops the build there. */
  beforeComponentize?: () => void | Promise<void>;
}

export class BuildError extends Error {
  /** The type checker's findings when that is what failed. */
  readonly problems: TypeProblem[];
  constructor(message: string, problems: TypeProblem[] = []) {
    super(message);
    this.name = 'BuildError';
    this.problems = problems;
  }
}

/**
 * TypeScript entry → bundled ES module → componentize-js (no WASI) →
 * dist/component.wasm + dist/metadata.json.
 */
export async function buildExtension(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const dir = path.resolve(options.dir);
  const toolchain = checkToolchain();
  const { manifest } = await loadManifest(dir);
  const capabilities = [...new Set<Capability>([...DEFAULT_CAPABILITIES, ...(manifest.capabilities as Capability[])])];
  const entry = await findEntry(dir);
  const typesPath = path.join(dir, TYPES_FILE);
  await writeIfChanged(typesPath, generateTypes(manifest));

  // Types first: they are what makes an undeclared key or capability a compile error.
  // A project laid out for the reference host is built there without a type check, so here too.
  const nativeEntry = entry === path.join(dir, 'src/index.ts');
  let problems: TypeProblem[] = [];
  if ((options.typeCheck ?? true) && nativeEntry) {
    progress('type-checking');
    problems = await typeCheck(dir, [entry, typesPath]);
  }
  const typeErrors = () => {
    const lines = problems
      .slice(0, 20)
      .map((p) => `  ${p.where ? `${p.where} ` : ''}TS${p.code}: ${p.message}${p.hint ? `\n    → ${p.hint}` : ''}`);
    if (problems.length > 20) lines.push(`  … and ${problems.length - 20} more`);
    return new BuildError(
      `Type check failed with ${problems.length} error${problems.length === 1 ? '' : 's'}; fix them and build again:\n${lines.join('\n')}`,
      problems,
    );
  };

  const distDir = path.join(dir, 'dist');
  const workDir = path.join(distDir, '.alga-build');
  await mkdir(workDir, { recursive: true });
  const shimPath = path.join(workDir, 'entry.js');
  await writeAtomic(shimPath, entryShim(entry, capabilities));

  progress('bundling');
  const bundled = await bundle(shimPath, dir).catch((error: unknown) => {
    throw problems.length > 0 ? typeErrors() : error;
  });
  const { source, witImports } = bundled;
  // Code written for the reference host (unversioned `alga:extension/*` imports, or
  // an entry elsewhere than src/index.ts): its types are the reference SDK's, not ours.
  const referenceStyle = !nativeEntry || witImports.some((i) => i.unversioned);
  if (problems.length > 0 && !referenceStyle) throw typeErrors();
  const warnings: string[] = [];
  // What publish would warn about the manifest, told before the upload.
  warnings.push(...egressOutsideAllowedHosts(manifest));
  if (problems.length > 0)
    warnings.push(`type check skipped: ${path.relative(dir, entry)} is written for the reference host`);
  const witText = await witSource();
  const unrequested = checkSourceImports(witImports, capabilities, dir, witText, warnings);

  const declared = interfacesFor(capabilities);
  // A declared capability may cover an interface its table row does not list (the reference's
  // user-v2 under cap:user.read): the source imports it, so the world must have it too.
  const covered = witImports.flatMap((i) => {
    const iface = parseImportName(i.path)?.iface;
    return iface && classifyInterface(iface).kind === 'capability' ? [iface] : [];
  });
  const worldInterfaces = [
    ...new Set([...declared, ...unrequested, ...[...new Set(covered)].filter((i) => !declared.includes(i)).sort()]),
  ];
  const wit = witText + extensionWorld(BUILD_WORLD, worldInterfaces);
  const witDir = path.join(workDir, 'wit');
  await mkdir(witDir, { recursive: true });
  await writeAtomic(path.join(witDir, 'alga-extension.wit'), wit);
  const inputHash = sha256(
    JSON.stringify({ source, wit, toolchain: { ...toolchain, node: undefined }, features: DISABLED_FEATURES }),
  );

  const componentPath = path.join(distDir, 'component.wasm');
  const metadataPath = path.join(distDir, 'metadata.json');
  const cacheDir = path.join(workDir, 'cache');
  if (!options.force) {
    const previous =
      (await readPrevious(metadataPath, componentPath, inputHash)) ??
      (await restoreFromCache(cacheDir, inputHash, componentPath));
    if (previous) {
      const metadata = { ...previous, name: manifest.name, version: manifest.version, capabilities };
      await writeAtomic(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
      if (referenceStyle) await copyAsMainWasm(componentPath, distDir);
      return {
        metadata,
        componentPath,
        metadataPath,
        cached: true,
        durationMs: performance.now() - started,
        warnings,
      };
    }
  }

  await options.beforeComponentize?.();
  progress('componentizing (StarlingMonkey + wizer; takes a few seconds)');
  const { componentize } = await import('@bytecodealliance/componentize-js');
  // Kept on disk for debugging: the exact module that was componentized.
  const sourcePath = path.join(workDir, 'bundle.js');
  await writeAtomic(sourcePath, source);
  let result: { component: Uint8Array; imports: [string, string][] };
  try {
    // componentize-js 0.23 types `imports` as [[iface, fn]][], but it returns [iface, fn] pairs.
    result = (await componentize({
      sourcePath,
      witPath: witDir,
      worldName: BUILD_WORLD,
      disableFeatures: [...DISABLED_FEATURES],
    })) as unknown as typeof result;
  } catch (error) {
    throw new BuildError(`componentize-js failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const imports = [...new Set(result.imports.map(([iface]) => iface))].sort();
  checkImports(imports, capabilities, manifest, unrequested);

  const metadata: BuildMetadata = {
    name: manifest.name,
    version: manifest.version,
    contentHash: `sha256:${sha256(result.component)}`,
    size: result.component.byteLength,
    inputHash,
    witPackage: `alga:extension@${WIT_VERSION}`,
    toolchain,
    imports,
    capabilities,
    builtAt: new Date().toISOString(),
  };
  await writeAtomic(componentPath, result.component);
  await writeAtomic(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
  await keepInCache(cacheDir, inputHash, result.component, metadata);
  if (referenceStyle) await copyAsMainWasm(componentPath, distDir);
  return { metadata, componentPath, metadataPath, cached: false, durationMs: performance.now() - started, warnings };
}

/** How many earlier builds a project keeps: undoing an edit (in `alga dev` too) is then a copy, not a componentize. */
const CACHED_BUILDS = 8;

async function keepInCache(dir: string, inputHash: string, component: Uint8Array, metadata: BuildMetadata) {
  await mkdir(dir, { recursive: true });
  await writeAtomic(path.join(dir, `${inputHash}.wasm`), component);
  await writeAtomic(path.join(dir, `${inputHash}.json`), JSON.stringify(metadata));
  const entries = await Promise.all(
    (await readdir(dir))
      .filter((name) => name.endsWith('.json'))
      .map(async (name) => ({ name, mtime: (await stat(path.join(dir, name))).mtimeMs })),
  );
  entries.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of entries.slice(CACHED_BUILDS)) {
    const hash = name.slice(0, -'.json'.length);
    await rm(path.join(dir, `${hash}.json`), { force: true });
    await rm(path.join(dir, `${hash}.wasm`), { force: true });
  }
}

async function restoreFromCache(
  dir: string,
  inputHash: string,
  componentPath: string,
): Promise<BuildMetadata | undefined> {
  const metadataFile = path.join(dir, `${inputHash}.json`);
  const cached = await readPrevious(metadataFile, path.join(dir, `${inputHash}.wasm`), inputHash);
  if (!cached) return undefined;
  await writeAtomic(componentPath, await readFile(path.join(dir, `${inputHash}.wasm`)));
  const now = new Date();
  await utimes(metadataFile, now, now); // most recently used: pruned last
  return cached;
}

interface SourceImport {
  from: string;
  path: string;
  /** Spelled without a version (`alga:extension/secrets`), as code for the reference host does. */
  unversioned: boolean;
}

async function bundle(shimPath: string, projectDir: string): Promise<{ source: string; witImports: SourceImport[] }> {
  const esbuild = await import('esbuild');
  const unversioned = new Set<string>();
  // The reference host's package has no version; ours does. The same interface
  // under our versioned name, so the import resolves in the build world.
  const versionImports: Plugin = {
    name: 'alga-versioned-imports',
    setup(build) {
      build.onResolve({ filter: /^alga:extension\/[^@]+$/ }, (args) => {
        const versioned = `${args.path}@${WIT_VERSION}`;
        unversioned.add(`${path.resolve(args.importer)}\0${versioned}`);
        return { path: versioned, external: true };
      });
    },
  };
  // The generated entry's own imports of the SDK are always ours: a project written for the
  // reference host has the reference's @alga-psa/extension-runtime installed, which has no
  // `host` or `reference` entry point. The project's code still gets the package it installed.
  const ownRuntime: Plugin = {
    name: 'alga-own-runtime',
    setup(build) {
      build.onResolve({ filter: /^@alga-psa\/extension-runtime\/(host|reference)$/ }, (args) =>
        path.resolve(args.importer) === shimPath ? { path: fileURLToPath(import.meta.resolve(args.path)) } : undefined,
      );
    },
  };
  try {
    const out = await esbuild.build({
      entryPoints: [shimPath],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      external: ['alga:extension/*'],
      plugins: [versionImports, ownRuntime],
      absWorkingDir: projectDir,
      // The SDK resolves from the project first, then from the CLI's own install.
      nodePaths: [path.resolve(cliRoot, 'node_modules'), path.resolve(cliRoot, '../../node_modules')],
      logLevel: 'silent',
      legalComments: 'none',
      metafile: true,
    });
    // Which files import `alga:extension/*` directly (the generated shim aside).
    const witImports = Object.entries(out.metafile.inputs).flatMap(([from, input]) =>
      path.resolve(projectDir, from) === shimPath
        ? []
        : input.imports
            .filter((i) => i.path.startsWith('alga:'))
            .map((i) => ({
              from,
              path: i.path,
              unversioned: unversioned.has(`${path.resolve(projectDir, from)}\0${i.path}`),
            })),
    );
    return { source: out.outputFiles[0]!.text, witImports };
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] })
      .errors;
    const detail = errors
      ?.map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
      .join('\n  ');
    throw new BuildError(`Bundling failed:\n  ${detail ?? String(error)}`);
  }
}

/**
 * Code that imports `alga:extension/*` itself (instead of through the SDK)
 * is checked here, before componentize-js, so a message names the file and
 * the manifest line. An unversioned (reference-style) import beyond the
 * manifest's capabilities is kept, as the reference host's whole-world
 * builds keep it: the runner answers its calls with the interface's
 * "not allowed" case. Returns those interfaces; a versioned import beyond
 * the manifest stays an error, since that code was written for this host.
 */
function checkSourceImports(
  witImports: SourceImport[],
  capabilities: readonly Capability[],
  projectDir: string,
  witText: string,
  warnings: string[],
): string[] {
  const unrequested = new Set<string>();
  for (const { from, path: spec, unversioned } of witImports) {
    const where = path.relative(projectDir, path.resolve(projectDir, from));
    const written = unversioned ? spec.replace(/@[^@]*$/, '') : spec;
    const parsed = parseImportName(spec);
    const kind = parsed ? classifyInterface(parsed.iface) : { kind: 'unknown' as const };
    if (!parsed || kind.kind === 'unknown' || !new RegExp(`^interface ${parsed.iface} \\{`, 'm').test(witText)) {
      throw new BuildError(
        `${where} imports ${written}, which this platform's WIT (alga:extension@${WIT_VERSION}) does not have; only these interfaces are available: ${WORLD_INTERFACES.join(', ')}.`,
      );
    }
    if (kind.kind === 'types' || (kind.kind === 'capability' && capabilities.includes(kind.capability))) continue;
    const capability = kind.kind === 'capability' ? kind.capability : undefined;
    if (!unversioned) {
      throw new BuildError(
        capability
          ? `${where} imports ${spec}, but manifest.json does not declare "${capability}"; add "${capability}" to "capabilities" in manifest.json.`
          : `${where} imports ${spec}, which this platform does not provide.`,
      );
    }
    if (!unrequested.has(parsed.iface)) {
      warnings.push(
        `${where} imports ${written}: ${describeNotRequested({ iface: parsed.iface, ...(capability ? { capability } : {}) })}.`,
      );
    }
    unrequested.add(parsed.iface);
  }
  return [...unrequested];
}

/** Every import must be the ambient WASI clocks or belong to a capability the manifest declares. */
function checkImports(
  imports: string[],
  capabilities: readonly Capability[],
  manifest: LoadedManifest['manifest'],
  unrequested: readonly string[],
): void {
  for (const name of imports) {
    if (ambientWasiInterface(name)) continue;
    const parsed = parseImportName(name);
    if (!parsed) {
      throw new BuildError(
        `The component imports ${name}, which the runner does not provide. Only alga:extension@${WIT_VERSION} interfaces are available.`,
      );
    }
    if (unrequested.includes(parsed.iface)) continue;
    const capability = capabilityForInterface(parsed.iface);
    if (!capability) throw new BuildError(`The component imports unknown interface alga:extension/${parsed.iface}.`);
    if (!capabilities.includes(capability)) {
      throw new BuildError(
        `The component imports alga:extension/${parsed.iface} but ${manifest.name}'s manifest.json does not declare it; add "${capability}" to "capabilities".`,
      );
    }
  }
}

/**
 * Where the handler lives: src/index.ts, or where a reference-host project
 * keeps it (its samples and templates use these), or the file its own
 * `esbuild <entry>` build script names.
 */
export const ENTRY_CANDIDATES = [
  'src/index.ts',
  'src/index.js',
  'src/backend/index.ts',
  'src/component/index.ts',
  'src/handler.ts',
  'src/main.ts',
  'index.ts',
] as const;

async function findEntry(dir: string): Promise<string> {
  for (const candidate of ENTRY_CANDIDATES) {
    if (existsSync(path.join(dir, candidate))) return path.join(dir, candidate);
  }
  const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{}')) as {
    scripts?: Record<string, string>;
  };
  for (const script of Object.values(pkg.scripts ?? {})) {
    const named = /\besbuild\s+(?:--?\S+\s+)*([^\s-][^\s]*\.(?:ts|js|mjs|tsx))\b/.exec(script)?.[1];
    if (named && existsSync(path.join(dir, named))) return path.join(dir, named);
  }
  throw new BuildError(
    `No entry file in ${path.relative(process.cwd(), dir) || '.'}: looked for ${ENTRY_CANDIDATES.join(', ')} and an esbuild entry in package.json's scripts. An extension's handler lives in src/index.ts.`,
  );
}

/** The reference host's name for the component (REFERENCE-HOST.md §2): its tools and bundles expect dist/main.wasm. */
async function copyAsMainWasm(componentPath: string, distDir: string): Promise<void> {
  await writeAtomic(path.join(distDir, 'main.wasm'), await readFile(componentPath));
}

async function witSource(): Promise<string> {
  const files = (await readdir(WIT_DIR)).filter((f) => f.endsWith('.wit')).sort();
  return (await Promise.all(files.map((f) => readFile(path.join(WIT_DIR, f), 'utf8')))).join('\n');
}

async function readPrevious(
  metadataPath: string,
  componentPath: string,
  inputHash: string,
): Promise<BuildMetadata | undefined> {
  try {
    const previous = JSON.parse(await readFile(metadataPath, 'utf8')) as BuildMetadata;
    if (previous.inputHash !== inputHash) return undefined;
    const bytes = await readFile(componentPath);
    return `sha256:${sha256(bytes)}` === previous.contentHash ? previous : undefined;
  } catch {
    return undefined;
  }
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  const previous = await readFile(file, 'utf8').catch(() => undefined);
  if (previous === text) return;
  await mkdir(path.dirname(file), { recursive: true });
  await writeAtomic(file, text);
}

// Every write in dist/ goes through a rename: two builds of one folder at once (`alga dev`
// beside `alga build`, parallel test files) then never read each other's half-written file.
async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
