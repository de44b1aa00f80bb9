import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Inside the published package, else this repository's templates/. */
const TEMPLATES = existsSync(path.join(packageRoot, 'templates'))
  ? path.join(packageRoot, 'templates')
  : path.resolve(packageRoot, '../../templates');
/** The template's own name, replaced by the new extension's name. */
const PLACEHOLDER = 'component-basic';
const NAME_RE = /^[a-z][a-z0-9-]{1,62}$/;

/** A problem the user fixes (name, folder): printed as one line. */
export class ScaffoldError extends Error {
  override name = 'ScaffoldError';
}

/**
 * Copies a template into `dir`. Its package.json depends on the published SDK
 * and CLI of this package's version: they are released together, under one
 * version. This package carries the templates itself and depends on nothing,
 * so `npm create` fetches a few kilobytes, not the CLI's build toolchain
 * (the new project's `npm install` does that, once).
 */
export async function scaffoldProject(options: {
  name: string;
  dir: string;
  template?: string;
}): Promise<{ dir: string; version: string }> {
  if (!NAME_RE.test(options.name)) {
    throw new ScaffoldError(
      `"${options.name}" is not a valid extension name: use a lowercase letter, then 2–63 lowercase letters, digits or dashes (e.g. "my-extension").`,
    );
  }
  const template = path.join(TEMPLATES, options.template ?? 'component-basic');
  if (!existsSync(template)) throw new ScaffoldError(`No template "${options.template}" in ${TEMPLATES}.`);
  const dir = path.resolve(options.dir);
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new ScaffoldError(`${dir} already exists and is not empty; choose another name or --dir.`);
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

  const { version } = JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  const pkgFile = path.join(dir, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  pkg.dependencies = { ...pkg.dependencies, '@alga-psa/extension-runtime': `^${version}` };
  pkg.devDependencies = { ...pkg.devDependencies, '@alga-psa/cli': `^${version}` };
  await writeFile(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  return { dir, version };
}
