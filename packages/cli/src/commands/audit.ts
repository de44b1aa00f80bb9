import type { Command } from 'commander';
import type { AuditRecord } from '@alga-psa/protocol';
import { CliError } from '../lib/errors.ts';
import { resolveInstallTarget, withInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';
import { printJson } from '../output.ts';

/** The server's most rows per page (MAX_AUDIT_PAGE); more is fetched page by page. */
const PAGE = 200;

/** `2026-12-06T20:31:02Z  user:ann@acme.test  secret.set api_token (v3)  req 8f2…` */
export function auditLine(entry: AuditRecord): string {
  const keys = entry.keyNames.length > 0 ? ` ${entry.keyNames.join(', ')}` : '';
  const version = entry.version === null ? '' : ` (v${entry.version})`;
  const request = entry.requestId ? `  request ${entry.requestId}` : '';
  return `${entry.at.replace(/\.\d{3}Z$/, 'Z')}  ${entry.actor}  ${entry.action}${keys}${version}${request}`;
}

export function register(program: Command): void {
  withInstallTarget(
    program
      .command('audit')
      .description("Print an install's audit trail, newest first: who changed what (key names, never values), when"),
  )
    .option('-n, --limit <n>', 'how many entries', '50')
    .option('--json', 'print JSON')
    .action(async (opts: InstallTargetFlags & { limit: string; json?: boolean }) => {
      const wanted = Number(opts.limit);
      if (!Number.isInteger(wanted) || wanted < 1) throw new CliError(`--limit must be a whole number above 0.`);
      const { extensionId, client } = await resolveInstallTarget(opts);
      const entries: AuditRecord[] = [];
      let before: string | undefined;
      do {
        const page = await client.audit(extensionId, {
          limit: Math.min(PAGE, wanted - entries.length),
          ...(before ? { before } : {}),
        });
        entries.push(...page.entries);
        before = page.nextBefore ?? undefined;
      } while (before && entries.length < wanted);
      if (opts.json) return printJson(entries);
      if (entries.length === 0) return console.log(`${extensionId} has no audit entries.`);
      for (const entry of entries) console.log(auditLine(entry));
    });
}
