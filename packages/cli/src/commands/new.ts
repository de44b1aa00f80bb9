import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScaffoldError, scaffoldProject } from '@alga-psa/create-extension';
import type { Command } from 'commander';
import { bundledSdkDir, findPackageDir } from '../build/typecheck.ts';
import { CliError } from '../lib/errors.ts';
import { noun } from '../lib/noun.ts';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Running the TypeScript sources of a checkout rather than the published, compiled CLI. */
const FROM_CHECKOUT = import.meta.url.endsWith('.ts');
const SDK = '@alga-psa/extension-runtime';
const CLI = '@alga-psa/cli';

/**
 * Copies a template (the initializer's, so `alga new` and `npm create` write the
 * same files). A CLI run from a checkout's sources, whose version may not be
 * published yet, also links its own SDK and CLI into node_modules the way
 * `npm install` would — so `alga build` and `node --test` work before any
 * install step.
 */
export async function scaffold(options: {
  name: string;
  dir: string;
  template?: string;
}): Promise<{ dir: string; linkedSdk: boolean; version: string }> {
  let dir: string;
  let version: string;
  try {
    ({ dir, version } = await scaffoldProject(options));
  } catch (error) {
    throw error instanceof ScaffoldError ? new CliError(error.message) : error;
  }

  let linkedSdk = false;
  if (FROM_CHECKOUT && !findPackageDir(CLI, dir)) {
    // The template's scripts (`npm test` runs `alga test`) need `alga` in node_modules/.bin, as
    // `npm install` would link it for a devDependency: this very CLI.
    await mkdir(path.join(dir, 'node_modules', '@alga-psa'), { recursive: true });
    await mkdir(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    await symlink(cliRoot, path.join(dir, 'node_modules', CLI), 'dir');
    await symlink(path.join('..', CLI, 'bin', 'alga.js'), path.join(dir, 'node_modules', '.bin', 'alga'));
  }
  if (FROM_CHECKOUT && !findPackageDir(SDK, dir)) {
    const sdk = bundledSdkDir();
    if (!sdk) throw new CliError(`Cannot find ${SDK} next to this alga install; reinstall the CLI.`);
    await mkdir(path.join(dir, 'node_modules', '@alga-psa'), { recursive: true });
    await symlink(sdk, path.join(dir, 'node_modules', SDK), 'dir');
    linkedSdk = true;
  }
  return { dir, linkedSdk, version };
}

export function register(program: Command): void {
  noun(program, 'new')
    .command('component <name>')
    .description('Scaffold a TypeScript component extension (manifest, handler, unit test, README)')
    .option('--dir <dir>', 'where to create it (default: ./<name>)')
    .action(async (name: string, opts: { dir?: string }) => createComponent(name, opts.dir));
}

/** `alga new component`'s work, shared with the reference CLI's `alga create component`. */
export async function createComponent(name: string, dir?: string): Promise<void> {
  const { dir: created, linkedSdk } = await scaffold({ name, dir: dir ?? name });
  const rel = path.relative(process.cwd(), created) || '.';
  console.log(`Created ${name} in ${rel}`);
  if (linkedSdk) console.log(`  linked ${SDK} and ${CLI} from this checkout into node_modules`);
  console.log('');
  console.log('Next:');
  console.log(`  cd ${rel}`);
  if (!findPackageDir(SDK, created))
    console.log('  npm install                # the SDK and this CLI, from the npm registry');
  console.log('  npx alga build             # type-check, bundle, componentize');
  console.log('  npm test                   # unit tests against the mock host, then alga test on the built component');
  console.log('  npx alga dev               # run it locally, reload on change');
}
