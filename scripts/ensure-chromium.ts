#!/usr/bin/env node
/**
 * Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests.
 * We drive the distribution's browser with playwright-core instead of
 * downloading Playwright's own build: one apt package, patched by the distro,
 * no extra download host. Runs non-interactively (CI has no stdin).
 *
 *   node scripts/ensure-chromium.ts
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const CHROMIUM_PATH = '/usr/bin/chromium';

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    log(`$ ${command} ${args.join(' ')}`);
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const forward = (data: Buffer) => {
      for (const line of data.toString('utf8').split('\n')) if (line.trim()) log(`  ${line}`);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', (error) => reject(error));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with code ${code}`)),
    );
  });
}

/** Returns the browser's path, installing it with apt-get first when it is missing. */
export async function ensureChromium(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  if (await isExecutable(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (!(await isExecutable('/usr/bin/apt-get'))) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH} and apt-get is not available to install it. ` +
        'Install Debian/Ubuntu\'s "chromium" package (or link a Chromium binary to that path) and run the tests again.',
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}. Install it with: sudo apt-get update && sudo apt-get install -y chromium`,
    );
  }
  log(`ensure-chromium: ${CHROMIUM_PATH} is missing; installing Debian's chromium package (takes a minute)…`);
  await run('apt-get', ['update'], log);
  await run('apt-get', ['install', '-y', 'chromium'], log);
  if (!(await isExecutable(CHROMIUM_PATH))) {
    throw new Error(`apt-get installed "chromium" but ${CHROMIUM_PATH} is still missing.`);
  }
  log(`ensure-chromium: installed ${CHROMIUM_PATH}`);
  return CHROMIUM_PATH;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureChromium().then(
    (file) => console.log(`Chromium ready at ${file}`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
