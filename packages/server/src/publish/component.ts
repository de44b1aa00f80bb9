/**
 * Validate early: a component is checked at publish, not at its first call.
 * It must be a Component Model binary, and every import must be an
 * `alga:extension` interface of this WIT or the reference host's, or one of
 * the ambient WASI interfaces (the clocks) every guest gets. An interface the
 * manifest has no capability for is accepted (componentize-js imports the
 * whole world) and recorded as "imported, not requested": the runner links it
 * to the deny path, so the guest still cannot reach a door the install did
 * not open.
 */
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import {
  WIT_PACKAGE,
  WASI_VERSION_LINE,
  WIT_VERSION,
  ambientWasiInterface,
  classifyInterface,
  describeNotRequested,
  importedNotRequested,
  importsHostClock,
  parseImportName,
  type Manifest,
} from '@alga-psa/protocol';
import { componentUndecodable, importsNotAllowed, notAComponent } from '../errors.ts';
import { componentProblem } from '../routes/bundles.ts';

export interface ImportProblem {
  import: string;
  message: string;
  /** The manifest fix, when there is one: `add "cap:…" to "capabilities"`. */
  fix?: string;
}

/**
 * The component's import names, read with jco's wasm-tools (in memory, no
 * filesystem). jco exposes them only as the component's WIT, so we read the
 * `import …;` lines of its world; anything we cannot classify is refused.
 */
export async function componentImports(bytes: Uint8Array): Promise<string[]> {
  const problem = componentProblem(bytes);
  if (problem) throw notAComponent({ problem });
  let wit: string;
  try {
    wit = await componentWit(bytes);
  } catch (error) {
    throw componentUndecodable({ cause: error });
  }
  return witImports(wit);
}

/** The imports of a WIT world: `import a:b/c@1.0.0;` → `a:b/c@1.0.0`; named imports (`import f: func…`) keep a marker. */
function witImports(wit: string): string[] {
  const lines = wit.split('\n');
  const start = lines.findIndex((line) => /^world \S+ \{$/.test(line));
  if (start === -1) return [];
  const imports: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '}') break;
    const plain = /^\s{2}import ([^\s;:]+:[^\s;]+);$/.exec(line);
    if (plain) {
      imports.push(plain[1]!);
      continue;
    }
    const named = /^\s{2}import (%?[a-z][a-z0-9-]*)\s*:/.exec(line);
    if (named) imports.push(`<named>${named[1]!.replace(/^%/, '')}`);
  }
  return imports;
}

/** The imports publish refuses: foreign packages, WASI beyond the clocks, incompatible versions, unknown interfaces. */
export function importProblems(imports: readonly string[]): ImportProblem[] {
  const problems: ImportProblem[] = [];
  for (const name of imports) {
    if (name.startsWith('<named>')) {
      problems.push({
        import: name.slice('<named>'.length),
        message: `imports a bare function or inline interface "${name.slice('<named>'.length)}"; only ${WIT_PACKAGE} interfaces are provided.`,
      });
      continue;
    }
    if (name.startsWith('wasi:')) {
      if (ambientWasiInterface(name)) continue;
      problems.push({
        import: name,
        message: `imports the WASI interface ${name}; extensions get only the WASI clocks (@${WASI_VERSION_LINE}.x) (build with \`alga build\`, which disables every other WASI feature, and reach the outside world through ${WIT_PACKAGE}/http).`,
      });
      continue;
    }
    if (!name.startsWith(`${WIT_PACKAGE}/`)) {
      problems.push({ import: name, message: `imports ${name}, which this platform does not provide.` });
      continue;
    }
    const parsed = parseImportName(name);
    if (!parsed) {
      problems.push({
        import: name,
        message: `imports ${name}, whose version is not compatible with ${WIT_PACKAGE}@${WIT_VERSION}; rebuild against the current WIT.`,
      });
      continue;
    }
    if (classifyInterface(parsed.iface).kind === 'unknown') {
      problems.push({
        import: name,
        message: `imports ${name}, an interface neither this platform's WIT nor the reference host's declares; rebuild against the published WIT.`,
      });
    }
  }
  return problems;
}

/** What publish accepts but the author should hear about: the host clock, and every import the manifest did not request. */
export function importWarnings(imports: readonly string[], manifest?: Pick<Manifest, 'capabilities'>): string[] {
  const warnings: string[] = [];
  if (!importsHostClock(imports)) {
    warnings.push(
      "The component does not import wasi:clocks, so its Date.now() and new Date() read the instant it was built, and performance.now() and timers trap. Rebuild it with `alga build` (componentize-js's clocks feature) to read the host's clock.",
    );
  }
  if (manifest) {
    for (const entry of importedNotRequested(imports, manifest.capabilities)) {
      warnings.push(`${WIT_PACKAGE}/${describeNotRequested(entry)}.`);
    }
  }
  return warnings;
}

/** Throws ALGA_IMPORT_NOT_ALLOWED naming every refused import; answers the warnings otherwise. */
export async function verifyComponent(
  bytes: Uint8Array,
  manifest: Pick<Manifest, 'capabilities'>,
): Promise<{ imports: string[]; warnings: string[] }> {
  const imports = await componentImports(bytes);
  const problems = importProblems(imports);
  if (problems.length > 0) {
    throw importsNotAllowed({ problems: problems.map((p) => p.message).join(' It also ') }, { details: problems });
  }
  return { imports, warnings: importWarnings(imports, manifest) };
}
