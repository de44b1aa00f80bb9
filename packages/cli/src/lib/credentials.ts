import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { ApiClient } from '../api/client.ts';
import { CliError } from './errors.ts';

export interface Credentials {
  serverUrl: string;
  apiKey: string;
}

/** `$XDG_CONFIG_HOME/alga/credentials.json`, default `~/.config/alga/credentials.json`. */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(homedir(), '.config');
  return path.join(base, 'alga', 'credentials.json');
}

export async function writeCredentials(credentials: Credentials): Promise<string> {
  const file = credentialsFile();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  // writeFile applies the mode only when it creates the file.
  await chmod(file, 0o600);
  return file;
}

/**
 * Where the server and key come from, first match wins: flags, then
 * ALGA_SERVER_URL (or the reference CLI's ALGA_API_BASE_URL) / ALGA_API_KEY,
 * then the file `alga login` wrote. A login file readable by others is
 * refused, like ssh does with keys.
 */
export async function resolveCredentials(flags: { server?: string; apiKey?: string } = {}): Promise<Credentials> {
  const env = process.env;
  let fromFile: Partial<Credentials> = {};
  const file = credentialsFile();
  const info = await stat(file).catch(() => undefined);
  if (info) {
    if ((info.mode & 0o077) !== 0) throw new CliError(`${file} is readable by other users; run: chmod 600 ${file}`);
    try {
      fromFile = JSON.parse(await readFile(file, 'utf8')) as Partial<Credentials>;
    } catch {
      throw new CliError(`${file} is not valid JSON; run: alga login`);
    }
  }
  // An empty variable counts as unset, so either spelling can be blanked out.
  const serverUrl = flags.server ?? (env['ALGA_SERVER_URL'] || env['ALGA_API_BASE_URL'] || fromFile.serverUrl);
  const apiKey = flags.apiKey ?? env['ALGA_API_KEY'] ?? fromFile.apiKey;
  if (!serverUrl || !apiKey) {
    throw new CliError(
      `No ${!serverUrl ? 'server URL' : 'API key'} configured; run: alga login (or set ALGA_SERVER_URL and ALGA_API_KEY)`,
    );
  }
  return { serverUrl, apiKey };
}

export async function apiClient(
  flags: { server?: string; apiKey?: string; timeoutMs?: number; tenantId?: string } = {},
): Promise<ApiClient> {
  return new ApiClient({
    ...(await resolveCredentials(flags)),
    ...(flags.timeoutMs ? { timeoutMs: flags.timeoutMs } : {}),
    ...(flags.tenantId ? { tenantId: flags.tenantId } : {}),
  });
}
