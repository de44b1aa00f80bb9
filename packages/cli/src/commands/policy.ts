import type { Command } from 'commander';
import type { PolicyAuditPage, PolicyCatalog } from '@alga-psa/protocol';
import { CliError } from '../lib/errors.ts';
import { operatorClient } from '../lib/operator.ts';
import { printJson } from '../output.ts';

/**
 * `alga policy list|enable|disable|reset|history`: the platform operator's
 * provider policy. These verbs use the operator key, never a tenant's API
 * key: `ALGA_OPERATOR_KEY`, or the 0600 file `ALGA_OPERATOR_KEY_FILE` names.
 */
interface PolicyFlags {
  server?: string;
  tenant?: string;
  json?: boolean;
}

/** One line per capability: its setting, per-tenant settings, and (for `--tenant`) what the tenant gets. */
export function policyLines(catalog: PolicyCatalog): string[] {
  const width = Math.max(...catalog.capabilities.map((c) => c.capability.length));
  const lines = catalog.tenant ? [`tenant ${catalog.tenant.name} (${catalog.tenant.id}):`] : [];
  for (const entry of catalog.capabilities) {
    const state = !entry.configurable
      ? 'always (every install)'
      : catalog.tenant
        ? `${entry.effective ? 'enabled' : 'disabled'}${effectiveSource(catalog, entry)}`
        : `${entry.enabled ? 'enabled' : 'disabled'} globally`;
    const overrides = catalog.tenant
      ? ''
      : entry.tenants.map((t) => `; ${t.enabled ? 'enabled' : 'disabled'} for ${t.tenantName || t.tenantId}`).join('');
    lines.push(`${entry.capability.padEnd(width)}  ${state}${overrides}`);
  }
  return lines;
}

function effectiveSource(catalog: PolicyCatalog, entry: PolicyCatalog['capabilities'][number]): string {
  return entry.tenants.some((t) => t.tenantId === catalog.tenant?.id) ? ' (tenant setting)' : ' (global setting)';
}

/** `2026-12-06T20:31:02Z  operator:1a2b3c4d  policy.disable cap:http.fetch  tenant <id>  request r-1` */
export function policyAuditLine(entry: PolicyAuditPage['entries'][number]): string {
  const scope = entry.tenantId ? `tenant ${entry.tenantId}` : 'global';
  const request = entry.requestId ? `  request ${entry.requestId}` : '';
  return `${entry.at.replace(/\.\d{3}Z$/, 'Z')}  ${entry.actor}  ${entry.action} ${entry.keyNames.join(', ')}  ${scope}${request}`;
}

function common(command: Command, tenantHelp: string): Command {
  return command
    .option('--tenant <tenant>', tenantHelp)
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)');
}

export function register(program: Command): void {
  const policy = program
    .command('policy')
    .description('Platform operator: enable or disable capabilities globally or per tenant (needs ALGA_OPERATOR_KEY)');

  common(
    policy.command('list').description('Show every capability and where it is disabled'),
    'what this tenant (id or name) gets',
  )
    .option('--json', 'print JSON')
    .action(async (opts: PolicyFlags) => {
      const catalog = await (await operatorClient(opts)).policy(opts.tenant);
      if (opts.json) return printJson(catalog);
      for (const line of policyLines(catalog)) console.log(line);
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    common(
      policy
        .command(`${verb} <capability>`)
        .description(
          enabled
            ? 'Enable a capability (globally, or for one tenant even when it is disabled globally)'
            : 'Disable a capability: installs needing it are refused, and running ones get "denied" within seconds',
        ),
      'only for this tenant (id or name)',
    ).action(async (capability: string, opts: PolicyFlags) => {
      await (await operatorClient(opts)).setPolicy(capability, enabled, opts.tenant);
      console.log(
        `${capability} ${enabled ? 'enabled' : 'disabled'} ${opts.tenant ? `for ${opts.tenant}` : 'globally'}.`,
      );
    });
  }

  common(
    policy
      .command('reset <capability>')
      .description('Drop a setting: a tenant follows the global one again; the global one goes back to enabled'),
    "drop this tenant's setting (id or name)",
  ).action(async (capability: string, opts: PolicyFlags) => {
    await (await operatorClient(opts)).resetPolicy(capability, opts.tenant);
    console.log(
      opts.tenant
        ? `${capability} for ${opts.tenant} follows the global setting again.`
        : `${capability} is enabled globally again (tenant settings stay).`,
    );
  });

  policy
    .command('history')
    .description('Every policy change, newest first: when, which operator key, what, for which tenant')
    .option('-n, --limit <n>', 'how many entries (up to 200)', '50')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .option('--json', 'print JSON')
    .action(async (opts: PolicyFlags & { limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200)
        throw new CliError('--limit must be a whole number from 1 to 200.');
      const page = await (await operatorClient(opts)).policyAudit({ limit });
      if (opts.json) return printJson(page.entries);
      if (page.entries.length === 0) return console.log('No policy changes yet.');
      for (const entry of page.entries) console.log(policyAuditLine(entry));
    });
}
