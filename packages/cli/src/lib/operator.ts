import { readFile, stat } from 'node:fs/promises';
import { ApiClient } from '../api/client.ts';
import { resolveCredentials } from './credentials.ts';
import { CliError } from './errors.ts';

/**
 * The platform operator's verbs (`alga policy`, `alga tenants`, `alga users`)
 * use the operator key, never a tenant's API key: `ALGA_OPERATOR_KEY`, or the
 * 0600 file `ALGA_OPERATOR_KEY_FILE` names (a file others can read is
 * refused, like `alga login`'s).
 */
export async function operatorKey(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env['ALGA_OPERATOR_KEY']) return env['ALGA_OPERATOR_KEY'];
  const file = env['ALGA_OPERATOR_KEY_FILE'];
  if (!file) {
    throw new CliError(
      'Operator commands need the platform operator key: set ALGA_OPERATOR_KEY, or ALGA_OPERATOR_KEY_FILE to a 0600 file holding it.',
    );
  }
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new CliError(`ALGA_OPERATOR_KEY_FILE names ${file}, which does not exist.`);
  if ((info.mode & 0o077) !== 0) throw new CliError(`${file} is readable by other users; run: chmod 600 ${file}`);
  return (await readFile(file, 'utf8')).trim();
}

/** A client of the server as every command finds it, authenticated with the operator key. */
export async function operatorClient(flags: { server?: string }): Promise<ApiClient> {
  const key = await operatorKey();
  const { serverUrl } = await resolveCredentials({ ...(flags.server ? { server: flags.server } : {}), apiKey: key });
  return new ApiClient({ serverUrl, apiKey: key });
}
