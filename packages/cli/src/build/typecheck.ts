import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompilerOptions } from 'typescript';

const SDK = '@alga-psa/extension-runtime';

export interface TypeProblem {
  /** `src/index.ts:4:20` relative to the extension folder, or empty for global problems. */
  where: string;
  code: number;
  message: string;
  /** What to do about it, when we recognise the problem. */
  hint?: string;
}

/** Walks up from `from` the way Node resolves a bare package name. */
export function findPackageDir(pkg: string, from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', pkg);
    if (existsSync(path.join(candidate, 'package.json'))) return realpathSync(candidate);
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The SDK the CLI ships with: used when the extension folder cannot resolve its own. */
export function bundledSdkDir(): string | undefined {
  return findPackageDir(SDK, path.dirname(fileURLToPath(import.meta.url)));
}

/**
 * Type-checks the component's own code: the files reachable from the entry,
 * plus the generated manifest types. Test files are not part of the
 * component and are left to the project's own tsconfig. The options are
 * fixed where the component's world demands it: no Node types (a component
 * has no Node), the web globals StarlingMonkey provides, bundler resolution.
 */
export async function typeCheck(projectDir: string, roots: string[]): Promise<TypeProblem[]> {
  // Loaded lazily: the compiler is large and only `build` needs it.
  const ts = (await import('typescript')).default;
  const configPath = path.join(projectDir, 'tsconfig.json');
  let projectOptions: CompilerOptions = {};
  if (existsSync(configPath)) {
    const parsed = ts.getParsedCommandLineOfConfigFile(
      configPath,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: () => {},
      },
    );
    projectOptions = parsed?.options ?? {};
  }
  const options: CompilerOptions = {
    strict: true,
    ...projectOptions,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: [],
    skipLibCheck: true,
    resolveJsonModule: true,
  };
  if (!findPackageDir(SDK, projectDir)) {
    const sdk = bundledSdkDir();
    if (sdk) {
      options.baseUrl = projectDir;
      options.paths = {
        [SDK]: [path.join(sdk, 'src/index.ts')],
        [`${SDK}/*`]: [path.join(sdk, 'src/*.ts')],
      };
    }
  }
  const program = ts.createProgram({ rootNames: roots, options });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  return diagnostics
    .filter((d) => d.category === ts.DiagnosticCategory.Error)
    .map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return { where: '', code: d.code, message };
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      const where = `${path.relative(projectDir, d.file.fileName)}:${line + 1}:${character + 1}`;
      const lineText = d.file.text.split('\n')[line] ?? '';
      const hint = hintFor(message, lineText);
      return { where, code: d.code, message, ...(hint ? { hint } : {}) };
    });
}

/** Turns the compiler's wording for manifest mismatches into the manifest line to add. */
export function hintFor(message: string, lineText: string): string | undefined {
  const cap = /CapabilityNotDeclared<"(cap:[a-z.]+)">/.exec(message);
  if (cap) return `this needs the "${cap[1]}" capability: add "${cap[1]}" to "capabilities" in manifest.json`;
  const key = /^Argument of type '"([^"]+)"' is not assignable to parameter of type '([^']*)'/.exec(message);
  if (key && /\.secrets\s*\.\s*get\s*\(/.test(lineText)) {
    return `"${key[1]}" is not a secret declared in manifest.json: add {"key": "${key[1]}", "type": "string", "label": "…", "secret": true} to "settings"`;
  }
  if (key && /\.config\s*\.\s*get\s*\(/.test(lineText)) {
    return `"${key[1]}" is not a setting declared in manifest.json: add {"key": "${key[1]}", "type": "string", "label": "…"} to "settings"`;
  }
  return undefined;
}
