import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CliError } from '../lib/errors.ts';

export const SECRETS_FILE = '.alga/secrets.local.json';
export const CONFIG_FILE = '.alga/config.local.json';

/**
 * Local secret values for `alga dev`. The file is the ONLY place plaintext
 * lives: it must be private to the user (refused otherwise, like ssh keys),
 * and a warning says so if git tracks it. Values go from here to the local
 * server's secrets API, which stores them encrypted under `.alga/`.
 */
export async function readLocalSecrets(
  projectDir: string,
  warn: (message: string) => void,
): Promise<Record<string, string>> {
  const file = path.join(projectDir, SECRETS_FILE);
  const info = await stat(file).catch(() => undefined);
  if (!info) return {};
  if ((info.mode & 0o077) !== 0) {
    throw new CliError(`${SECRETS_FILE} is readable by other users; run: chmod 600 ${SECRETS_FILE}`);
  }
  if (isTrackedByGit(projectDir, file)) {
    warn(
      `${SECRETS_FILE} is tracked by git: remove it with "git rm --cached ${SECRETS_FILE}" and keep .alga/ in .gitignore`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    // Never echo the content: it holds secrets.
    throw new CliError(`${SECRETS_FILE} is not valid JSON; it must be an object of key → string value.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${SECRETS_FILE} must be a JSON object of key → string value.`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new CliError(`${SECRETS_FILE}: the value of "${key}" must be a string.`);
    out[key] = value;
  }
  return out;
}

/** Writes the local secrets file, creating it 0600 inside a 0700 `.alga/`. */
export async function writeLocalSecrets(projectDir: string, secrets: Record<string, string>): Promise<void> {
  const file = path.join(projectDir, SECRETS_FILE);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
}

export async function readLocalConfig(projectDir: string): Promise<Record<string, unknown>> {
  const file = path.join(projectDir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new CliError(`${CONFIG_FILE} must be a JSON object of setting key → value.`);
}

function isTrackedByGit(projectDir: string, file: string): boolean {
  const result = spawnSync('git', ['ls-files', '--error-unmatch', file], { cwd: projectDir, stdio: 'ignore' });
  return result.status === 0;
}
