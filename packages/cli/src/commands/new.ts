import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { bundledSdkDir, findPackageDir } from '../build/typecheck.ts';
import { CliError } from '../lib/errors.ts';
import { noun } from '../lib/noun.ts';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Inside the published CLI package, else this repository's templates/. */
const TEMPLATES = existsSync(path.join(cliRoot, 'templates'))
  ? path.join(cliRoot, 'templates')
  : path.resolve(cliRoot, '../../templates');
/** Running the TypeScript sources of a checkout rather than the published, compiled CLI. */
const FROM_CHECKOUT = import.meta.url.endsWith('.ts');
const SDK = '@alga-psa/extension-runtime';
const CLI = '@alga-psa/cli';
/** The template's own name, replaced by the new extension's name. */
const PLACEHOLDER = 'component-basic';
const NAME_RE = /^[a-z][a-z0-9-]{1,62}$/;

/**
 * Copies a template. Its package.json depends on the published SDK and CLI
 * of this CLI's version (`npm install` fetches them). A CLI run from a
 * checkout's sources, whose version may not be published yet, also links its
 * own SDK and CLI into node_modules the way `npm install` would — so
 * `alga build` and `node --test` work before any install step.
 */
export async function scaffold(options: {
  name: string;
  dir: string;
  template?: string;
}): Promise<{ dir: string; linkedSdk: boolean; version: string }> {
  if (!NAME_RE.test(options.name)) {
    throw new CliError(
      `"${options.name}" is not a valid extension name: use a lowercase letter, then 2–63 lowercase letters, digits or dashes (e.g. "my-extension").`,
    );
  }
  const template = path.join(TEMPLATES, options.template ?? 'component-basic');
  if (!existsSync(template)) throw new CliError(`No template "${options.template}" in ${TEMPLATES}.`);
  const dir = path.resolve(options.dir);
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new CliError(`${dir} already exists and is not empty; choose another name or --dir.`);
  }
  await mkdir(dir, { recursive: true });
  await cp(template, dir, {
    recursive: true,
    filter: (src) => !/(^|[/\\])(node_modules|dist|\.alga)([/\\]|$)/.test(path.relative(template, src)),
  });
  // Stored without the dot so the template's own folder is not affected by it.
  if (existsSync(path.join(dir, 'gitignore'))) await rename(path.join(dir, 'gitignore'), path.join(dir, '.gitignore'));
  for (const file of ['manifest.json', 'package.json', 'README.md', 'alga.test.json']) {
    const target = path.join(dir, file);
    if (existsSync(target))
      await writeFile(target, (await readFile(target, 'utf8')).replaceAll(PLACEHOLDER, options.name));
  }

  const { version } = JSON.parse(await readFile(path.join(cliRoot, 'package.json'), 'utf8')) as { version: string };
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  // The SDK and the CLI are released together, under one version.
  pkg.dependencies = { ...pkg.dependencies, [SDK]: `^${version}` };
  pkg.devDependencies = { ...pkg.devDependencies, [CLI]: `^${version}` };
  await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);

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
