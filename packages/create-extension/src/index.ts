import { spawn } from 'node:child_process';
import path from 'node:path';
import { scaffoldProject } from './scaffold.ts';

export { ScaffoldError, scaffoldProject } from './scaffold.ts';

export interface CreateOptions {
  name: string;
  /** Where to create it (default: ./<name>). */
  dir?: string;
  /** Run `npm install` in the new project (default true). */
  install?: boolean;
  /** Progress and next-step lines. */
  say?: (line: string) => void;
}

/**
 * Scaffolds a project from the template (the same files as `alga new component`),
 * depending on the published SDK and CLI, then installs them.
 */
export async function createExtension(options: CreateOptions): Promise<{ dir: string }> {
  const say = options.say ?? ((line: string) => console.log(line));
  const { dir, version } = await scaffoldProject({ name: options.name, dir: options.dir ?? options.name });
  const rel = path.relative(process.cwd(), dir) || '.';
  say(`Created ${options.name} in ${rel} (@alga-psa/extension-runtime and @alga-psa/cli ^${version})`);
  if (options.install !== false) {
    say('Installing dependencies (npm install)…');
    await npmInstall(dir);
  }
  say('');
  say('Next:');
  say(`  cd ${rel}`);
  if (options.install === false) say('  npm install');
  say('  npx alga build       # type-check, bundle, componentize');
  say('  npm test             # unit tests, then alga test on the built component');
  say('  npx alga dev         # run it locally, reload on change');
  return { dir };
}

function npmInstall(cwd: string): Promise<void> {
  // npm runs this initializer, so it is on PATH; npm_execpath names the very npm that did.
  const npmCli = process.env['npm_execpath'];
  const [command, args] = npmCli?.endsWith('.js')
    ? [process.execPath, [npmCli, 'install', '--no-audit', '--no-fund']]
    : ['npm', ['install', '--no-audit', '--no-fund']];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`npm install exited with ${code} in ${cwd}; run it there yourself.`)),
    );
  });
}
