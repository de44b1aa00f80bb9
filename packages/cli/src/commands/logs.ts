import type { Command } from 'commander';
import type { InstallLogLine, InstallLogsPage } from '@alga-psa/protocol';
import { ServerApiError, type ApiClient } from '../api/client.ts';
import { CliError } from '../lib/errors.ts';
import { resolveInstallTarget, withInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';

/** A page of `GET /api/v1/installs/:id/logs`, refusing an answer of another shape instead of printing nothing. */
function pageOf(client: ApiClient, body: unknown): InstallLogsPage {
  const page = body as Partial<InstallLogsPage> | undefined;
  if (!page || !Array.isArray(page.lines)) {
    throw new CliError(`${client.serverUrl} answered the logs request without a "lines" list; upgrade the server.`);
  }
  return { lines: page.lines, nextAfter: page.nextAfter ?? null };
}

export function formatLogLine(line: InstallLogLine): string {
  return `${line.at} ${line.level.toUpperCase().padEnd(5)} ${line.message}`;
}

export function register(program: Command): void {
  withInstallTarget(
    program.command('logs').description("Print an install's recent log lines; --follow keeps printing new ones"),
  )
    .option('-n, --limit <n>', 'how many recent lines', '100')
    .option('-f, --follow', 'keep polling for new lines (Ctrl-C to stop)')
    .option('--json', 'one JSON object per line')
    .action(async (opts: InstallTargetFlags & { limit: string; follow?: boolean; json?: boolean }) => {
      const { extensionId, client } = await resolveInstallTarget(opts);
      let after: string | undefined;
      for (;;) {
        let body: unknown;
        try {
          body = await client.logs(extensionId, { limit: Number(opts.limit), ...(after ? { after } : {}) });
        } catch (error) {
          if (error instanceof ServerApiError && error.status === 404 && error.code !== 'ALGA_NOT_FOUND') {
            throw new CliError(
              `${client.serverUrl} does not serve install logs (GET /api/v1/installs/:id/logs); upgrade the server.`,
            );
          }
          throw error;
        }
        const { lines, nextAfter } = pageOf(client, body);
        for (const line of lines) console.log(opts.json ? JSON.stringify(line) : formatLogLine(line));
        if (nextAfter) after = nextAfter;
        if (!opts.follow) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
}
