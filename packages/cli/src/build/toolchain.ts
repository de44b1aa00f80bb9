import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The build toolchain is pinned: componentize-js embeds a JS engine whose
 * output we test against, and its build breaks with preview2-shim 0.26 (which
 * stopped preopening the host filesystem: "reading file … No such file or
 * directory"). Checked before every build so a mismatch fails in one line.
 */
export const TOOLCHAIN = {
  // undici 8 (the runner's and transit's HTTP client) needs 22.19; package.json `engines` say the same.
  node: '>=22.19',
  '@bytecodealliance/componentize-js': '0.23.0',
  '@bytecodealliance/jco': '1.35.0',
  '@bytecodealliance/preview2-shim': '0.25.',
  esbuild: '0.28.2',
} as const;

export type ToolchainVersions = Record<'node' | 'componentize-js' | 'jco' | 'preview2-shim' | 'esbuild', string>;

export class ToolchainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolchainError';
  }
}

/**
 * The version of `pkg` that Node would load from `fromDir`: walk up the
 * node_modules chain the way Node's resolver does. (Not require.resolve:
 * several of these packages are ESM-only and export no package.json.)
 */
function installedVersion(pkg: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', pkg, 'package.json');
    if (existsSync(candidate)) return (JSON.parse(readFileSync(candidate, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) throw new ToolchainError(`${pkg} is not installed; run: npm ci`);
  }
}

function packageDir(pkg: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', pkg);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new ToolchainError(`${pkg} is not installed; run: npm ci`);
  }
}

/** Returns the versions in use, or throws a ToolchainError that says how to fix the mismatch. */
export function checkToolchain(): ToolchainVersions {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const [needMajor = 0, needMinor = 0] = TOOLCHAIN.node.slice(2).split('.').map(Number);
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    throw new ToolchainError(
      `Node ${process.versions.node} is too old: Alga needs Node ${TOOLCHAIN.node.replace('>=', '>= ')}. Run through npm (npm start / npm test / npx alga), which uses the pinned Node 24 from devDependencies.`,
    );
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const componentize = installedVersion('@bytecodealliance/componentize-js', here);
  // preview2-shim must be the one componentize-js itself resolves.
  const shim = installedVersion(
    '@bytecodealliance/preview2-shim',
    packageDir('@bytecodealliance/componentize-js', here),
  );
  const jco = installedVersion('@bytecodealliance/jco', here);
  const esbuild = installedVersion('esbuild', here);
  const problems: string[] = [];
  if (componentize !== TOOLCHAIN['@bytecodealliance/componentize-js']) {
    problems.push(`componentize-js ${componentize} (need ${TOOLCHAIN['@bytecodealliance/componentize-js']})`);
  }
  if (!shim.startsWith(TOOLCHAIN['@bytecodealliance/preview2-shim'])) {
    problems.push(`preview2-shim ${shim} (need 0.25.x; 0.26 breaks componentize-js builds)`);
  }
  if (jco !== TOOLCHAIN['@bytecodealliance/jco'])
    problems.push(`jco ${jco} (need ${TOOLCHAIN['@bytecodealliance/jco']})`);
  if (esbuild !== TOOLCHAIN.esbuild) problems.push(`esbuild ${esbuild} (need ${TOOLCHAIN.esbuild})`);
  if (problems.length > 0) {
    throw new ToolchainError(`Toolchain mismatch: ${problems.join('; ')}. Reinstall the pinned versions with: npm ci`);
  }
  return { node: process.versions.node, 'componentize-js': componentize, jco, 'preview2-shim': shim, esbuild };
}
