import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { bundledSdkDir, findPackageDir } from '../build/typecheck.ts';
import { CliError } from '../lib/errors.ts';
import { noun } from '../lib/noun.ts';

const TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../templates');
const SDK = '@alga-psa/extension-runtime';
const CLI = '@alga-psa/cli';
/** The template's own name, replaced by the new extension's name. */
const PLACEHOLDER = 'component-basic';
const NAME_RE = /^[a-z][a-z0-9-]{1,62}$/;

/**
 * Copies a template and makes it buildable right away. Inside this monorepo
 * the SDK resolves through the workspace; anywhere else the project gets a
 * `file:` dependency on the SDK this CLI ships with, linked into
 * node_modules the way `npm install` would link it — so `alga build` and
 * `node --test` work before any install step.
 */
export async function scaffold(options: {
  name: string;
  dir: string;
  template?: string;
}): Promise<{ dir: string; linkedSdk: boolean }> {
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

  let linkedSdk = false;
  if (!findPackageDir(CLI, dir)) {
    // The template's scripts (`npm test` runs `alga test`) need `alga` in node_modules/.bin, as
    // `npm install` would link it for a devDependency: this very CLI.
    const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const pkgFile = path.join(dir, 'package.json');
    const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { devDependencies?: Record<string, string> };
    pkg.devDependencies = { ...pkg.devDependencies, [CLI]: `file:${cli}` };
    await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
    await mkdir(path.join(dir, 'node_modules', '@alga-psa'), { recursive: true });
    await mkdir(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    await symlink(cli, path.join(dir, 'node_modules', CLI), 'dir');
    await symlink(path.join('..', CLI, 'bin', 'alga.js'), path.join(dir, 'node_modules', '.bin', 'alga'));
  }
  if (!findPackageDir(SDK, dir)) {
    const sdk = bundledSdkDir();
    if (!sdk) throw new CliError(`Cannot find ${SDK} next to this alga install; reinstall the CLI.`);
    const pkgFile = path.join(dir, 'package.json');
    const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { dependencies?: Record<string, string> };
    pkg.dependencies = { ...pkg.dependencies, [SDK]: `file:${sdk}` };
    await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
    await mkdir(path.join(dir, 'node_modules', '@alga-psa'), { recursive: true });
    await symlink(sdk, path.join(dir, 'node_modules', SDK), 'dir');
    linkedSdk = true;
  }
  return { dir, linkedSdk };
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
  if (linkedSdk) console.log(`  linked ${SDK} from this CLI (file: dependency)`);
  console.log('');
  console.log('Next:');
  console.log(`  cd ${rel}`);
  console.log('  alga build                 # type-check, bundle, componentize');
  console.log('  npm test                   # unit tests against the mock host, then alga test on the built component');
  console.log('  alga dev                   # run it locally, reload on change');
}
