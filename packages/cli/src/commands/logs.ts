import type { Command } from 'commander';
import { ServerApiError } from '../api/client.ts';
import { CliError } from '../lib/errors.ts';
import { resolveInstallTarget } from '../lib/install-target.ts';

interface LogEntry {
  id?: string | number;
  cursor?: string;
  time?: string;
  createdAt?: string;
  level?: string;
  message?: string;
  requestId?: string;
}

/** The logs API's page, whatever the exact field names (entries/logs, nextCursor/cursor). */
function pageOf(body: unknown): { entries: LogEntry[]; next: string | undefined } {
  const b = (body ?? {}) as { entries?: LogEntry[]; logs?: LogEntry[]; nextCursor?: string; cursor?: string };
  const entries = b.entries ?? b.logs ?? (Array.isArray(body) ? (body as LogEntry[]) : []);
  const last = entries.at(-1);
  const next = b.nextCursor ?? b.cursor ?? (last ? String(last.cursor ?? last.id ?? '') || undefined : undefined);
  return { entries, next };
}

export function register(program: Command): void {
  program
    .command('logs')
    .description("Print an install's recent log lines; --follow keeps printing new ones")
    .option('--ext <extensionId>', 'extension (default: the manifest in --dir)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('-n, --limit <n>', 'how many recent lines', '100')
    .option('-f, --follow', 'keep polling for new lines (Ctrl-C to stop)')
    .option('--server <url>', 'server URL')
    .option('--json', 'one JSON object per line')
    .action(
      async (opts: { ext?: string; dir: string; limit: string; follow?: boolean; server?: string; json?: boolean }) => {
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
          const { entries, next } = pageOf(body);
          for (const entry of entries) {
            if (opts.json) console.log(JSON.stringify(entry));
            else
              console.log(
                `${entry.time ?? entry.createdAt ?? ''} ${(entry.level ?? 'info').toUpperCase().padEnd(5)} ${entry.message ?? ''}`,
              );
          }
          if (next) after = next;
          if (!opts.follow) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      },
    );
}
