import type { Command } from 'commander';
import { ApiClient, ServerApiError } from '../api/client.ts';
import { writeCredentials } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { readSecretValue } from '../lib/input.ts';

export function register(program: Command): void {
  program
    .command('login')
    .description('Save a server URL and API key to ~/.config/alga/credentials.json (mode 0600)')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:8080')
    .action(async (opts: { server: string }) => {
      // The key is a credential: from a pipe or a hidden prompt, never argv.
      const apiKey = process.env['ALGA_API_KEY'] ?? (await readSecretValue('the API key'));
      const client = new ApiClient({ serverUrl: opts.server, apiKey });
      try {
        await client.request('GET', '/api/v1/installs');
      } catch (error) {
        // Unreachable is not refused: the message must send the user to the server, not to their key.
        if (error instanceof ServerApiError && error.status === 0) {
          throw new CliError(`${error.message} Nothing was saved.`);
        }
        if (error instanceof ServerApiError && (error.status === 401 || error.status === 403)) {
          throw new CliError(`The server refused the key (${error.message}); nothing was saved.`);
        }
        throw new CliError(
          `Could not check the key against ${opts.server} (${(error as Error).message}); nothing was saved.`,
        );
      }
      const file = await writeCredentials({ serverUrl: opts.server, apiKey });
      console.log(`Logged in to ${opts.server}; credentials saved to ${file} (mode 0600).`);
    });
}
