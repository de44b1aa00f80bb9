import type { Command } from 'commander';
import type { TenantInfo } from '@alga-psa/protocol';
import { operatorClient } from '../lib/operator.ts';
import { intoPrivateFile } from '../lib/private-file.ts';
import { printJson, status } from '../output.ts';
import { registerOperatorKey } from './api-keys.ts';

/**
 * `alga tenants list|create`: the platform operator's tenants (operator key,
 * see lib/operator.ts). A new tenant's first admin API key is shown once, or
 * written to a new 0600 file with `--key-file`; the server keeps only its hash.
 */
interface TenantFlags {
  server?: string;
  json?: boolean;
  keyFile?: string;
}

/** `acme  3f2504e0-…  created 2026-12-07T06:00:00Z` */
export function tenantLine(tenant: TenantInfo, width: number): string {
  return `${tenant.name.padEnd(width)}  ${tenant.id}  created ${tenant.createdAt.replace(/\.\d{3}Z$/, 'Z')}`;
}

export function register(program: Command): void {
  const tenants = program
    .command('tenants')
    .description('Platform operator: create tenants and list them (needs ALGA_OPERATOR_KEY)');

  tenants
    .command('list')
    .description('Every tenant, by name')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .option('--json', 'print JSON')
    .action(async (opts: TenantFlags) => {
      const { tenants: list } = await (await operatorClient(opts)).tenants();
      if (opts.json) return printJson(list);
      if (list.length === 0) return console.log('No tenants yet: alga tenants create <name>');
      const width = Math.max(...list.map((t) => t.name.length));
      for (const tenant of list) console.log(tenantLine(tenant, width));
    });

  tenants
    .command('create <name>')
    .description("Create a tenant and its first admin API key (shown once; give it to the tenant's admin)")
    .option('--key-file <path>', 'write the API key to this new file (0600) instead of printing it')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .option('--json', 'print JSON (with the key, unless --key-file)')
    .action(async (name: string, opts: TenantFlags) => {
      const client = await operatorClient(opts);
      const created = await intoPrivateFile(
        opts.keyFile,
        () => client.createTenant({ name }),
        (made) => `${made.apiKey}\n`,
      );
      if (opts.json) {
        const { apiKey, ...rest } = created;
        return printJson(opts.keyFile ? { ...rest, keyFile: opts.keyFile } : { ...rest, apiKey });
      }
      console.log(`Created tenant ${created.tenant.name} (${created.tenant.id}).`);
      if (opts.keyFile) {
        console.log(`Its admin API key ${created.keyId} is in ${opts.keyFile} (0600).`);
      } else {
        status('The admin API key below is shown once; only its hash is kept. Store it now.');
        console.log(created.apiKey);
      }
      status(`Next: alga users add <email> --tenant ${created.tenant.name} --role admin (web UI sign-in)`);
    });

  registerOperatorKey(tenants);
}
