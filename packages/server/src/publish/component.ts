/**
 * Validate early: a component is checked at publish, not at its first call.
 * It must be a Component Model binary, and every import must be an
 * `alga:extension` interface unlocked by a capability the manifest declares,
 * or one of the ambient WASI interfaces (the clocks) every guest gets, so a
 * guest can never reach for a door the install did not open.
 */
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import {
  DEFAULT_CAPABILITIES,
  WIT_PACKAGE,
  WASI_VERSION_LINE,
  WIT_VERSION,
  ambientWasiInterface,
  capabilityForInterface,
  importsHostClock,
  parseImportName,
  type Manifest,
} from '@alga-psa/protocol';
import { componentUndecodable, importsNotAllowed, notAComponent } from '../errors.ts';
import { componentProblem } from '../routes/bundles.ts';

/** Interfaces that carry only types: importing them needs no capability. */
const TYPE_ONLY_INTERFACES = new Set(['types']);
/** The reference host's PSA-specific interfaces, out of this platform's scope. */
const PSA_INTERFACES = new Set(['scheduler', 'invoicing', 'clients', 'services', 'tickets', 'projects', 'contacts']);

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

export function importProblems(imports: readonly string[], manifest: Pick<Manifest, 'capabilities'>): ImportProblem[] {
  const declared = new Set<string>([...manifest.capabilities, ...DEFAULT_CAPABILITIES]);
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
    if (TYPE_ONLY_INTERFACES.has(parsed.iface)) continue;
    if (PSA_INTERFACES.has(parsed.iface)) {
      problems.push({
        import: name,
        message: `imports ${name}, a PSA-specific interface of the reference host that this platform does not provide; remove its use.`,
      });
      continue;
    }
    const capability = capabilityForInterface(parsed.iface);
    if (!capability) {
      problems.push({ import: name, message: `imports ${name}, an interface this platform does not provide.` });
      continue;
    }
    if (!declared.has(capability)) {
      const fix = `add "${capability}" to "capabilities"`;
      problems.push({
        import: name,
        message: `imports ${name}, which needs ${capability}; ${fix} in manifest.json.`,
        fix,
      });
    }
  }
  return problems;
}

/** What publish accepts but the author should hear about. */
export function importWarnings(imports: readonly string[]): string[] {
  if (importsHostClock(imports)) return [];
  return [
    "The component does not import wasi:clocks, so its Date.now() and new Date() read the instant it was built, and performance.now() and timers trap. Rebuild it with `alga build` (componentize-js's clocks feature) to read the host's clock.",
  ];
}

/** Throws ALGA_IMPORT_NOT_ALLOWED naming every offending import and its fix; answers the warnings otherwise. */
export async function verifyComponent(
  bytes: Uint8Array,
  manifest: Pick<Manifest, 'capabilities'>,
): Promise<{ imports: string[]; warnings: string[] }> {
  const imports = await componentImports(bytes);
  const problems = importProblems(imports, manifest);
  if (problems.length > 0) {
    throw importsNotAllowed({ problems: problems.map((p) => p.message).join(' It also ') }, { details: problems });
  }
  return { imports, warnings: importWarnings(imports) };
}
