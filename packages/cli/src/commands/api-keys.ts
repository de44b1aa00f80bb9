import type { Command } from 'commander';
import type { ApiKeyCreated, ApiKeyInfo } from '@alga-psa/protocol';
import { apiClient } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { operatorClient } from '../lib/operator.ts';
import { intoPrivateFile } from '../lib/private-file.ts';
import { printJson, status } from '../output.ts';

/**
 * `alga api-keys list|create|revoke`: the tenant's API keys, for its admins
 * (the logged-in key must be an admin key). Rotating a key is create, switch,
 * revoke; the last active admin key cannot be revoked. The platform operator
 * can issue a key to a tenant that lost its own: `alga tenants add-key`.
 */
interface KeyFlags {
  server?: string;
  json?: boolean;
  name?: string;
  role?: string;
  keyFile?: string;
}

/** `1a2b3c4d5e6f7a8b  admin   ci deploy  created 2026-…Z  last used 2026-…Z` (or `REVOKED …`). */
export function apiKeyLine(key: ApiKeyInfo, width: number): string {
  const when = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z');
  const state = key.revokedAt
    ? `REVOKED ${when(key.revokedAt)}`
    : `created ${when(key.createdAt)}${key.lastUsedAt ? `  last used ${when(key.lastUsedAt)}` : ''}`;
  return `${key.id}  ${key.role.padEnd(6)}  ${key.name.padEnd(width)}  ${state}`;
}

function role(value: string | undefined): 'admin' | 'viewer' {
  if (value !== 'admin' && value !== 'viewer') throw new CliError('--role must be admin or viewer.');
  return value;
}

/** Makes a key with `--key-file` reserved first, then prints it once or says where it is, as `tenants create` does. */
export async function handOver(make: () => Promise<ApiKeyCreated>, opts: KeyFlags, what: string): Promise<void> {
  const created = await intoPrivateFile(opts.keyFile, make, (made) => `${made.apiKey}\n`);
  if (opts.json) {
    const { apiKey, ...rest } = created;
    return printJson(opts.keyFile ? { ...rest, keyFile: opts.keyFile } : { ...rest, apiKey });
  }
  console.log(`Created ${created.key.role} key ${created.key.id} (${created.key.name}) ${what}.`);
  if (opts.keyFile) return console.log(`The key is in ${opts.keyFile} (0600).`);
  status('The key below is shown once; only a hash of it is kept. Store it now.');
  console.log(created.apiKey);
}

const serverOption = ['--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)'] as const;

export function keyOptions(command: Command): Command {
  return command
    .requiredOption('--name <name>', 'what the key is for (shown in listings)')
    .requiredOption('--role <role>', 'admin | viewer (viewer keys read only)')
    .option('--key-file <path>', 'write the key to this new file (0600) instead of printing it')
    .option(...serverOption)
    .option('--json', 'print JSON (with the key, unless --key-file)');
}

export function register(program: Command): void {
  const keys = program
    .command('api-keys')
    .description("Your tenant's API keys: create, list, revoke (rotation); needs an admin key");

  keys
    .command('list')
    .description('Every key of the tenant, newest first, revoked ones included; never a secret')
    .option(...serverOption)
    .option('--json', 'print JSON')
    .action(async (opts: KeyFlags) => {
      const { keys: list } = await (await apiClient(opts)).apiKeys();
      if (opts.json) return printJson(list);
      const width = Math.max(0, ...list.map((k) => k.name.length));
      for (const key of list) console.log(apiKeyLine(key, width));
    });

  keyOptions(keys.command('create').description('Create an API key for this tenant (shown once)')).action(
    async (opts: KeyFlags) => {
      const client = await apiClient(opts);
      const request = { name: opts.name!, role: role(opts.role) };
      await handOver(() => client.createApiKey(request), opts, 'for this tenant');
    },
  );

  keys
    .command('revoke <keyId>')
    .description('Revoke a key: refused at once by this server, by others within 5 s (audited)')
    .option(...serverOption)
    .action(async (keyId: string, opts: KeyFlags) => {
      const key = await (await apiClient(opts)).revokeApiKey(keyId);
      console.log(`Key ${key.id} (${key.name}) is revoked since ${key.revokedAt}.`);
    });
}

/** `alga tenants add-key <tenant>`: the operator's way back in for a tenant without a working admin key. */
export function registerOperatorKey(tenants: Command): void {
  keyOptions(
    tenants
      .command('add-key <tenant>')
      .description('Issue an API key to a tenant (id or name) that lost its own admin keys (shown once)'),
  ).action(async (tenant: string, opts: KeyFlags) => {
    const client = await operatorClient(opts);
    const request = { name: opts.name!, role: role(opts.role) };
    await handOver(() => client.issueTenantKey(tenant, request), opts, `for tenant ${tenant}`);
  });
}
