import type { Command } from 'commander';
import { MIN_PASSWORD_LENGTH, USER_ROLES, type UserInfo, type UserRole } from '@alga-psa/protocol';
import { CliError } from '../lib/errors.ts';
import { operatorClient } from '../lib/operator.ts';
import { printJson, status } from '../output.ts';

/**
 * `alga users list|add --tenant T`: the people who sign in to a tenant's web
 * UI, staff (admin, viewer) and client-portal users (client, with the client
 * they belong to). Operator key only (lib/operator.ts). A password comes from
 * stdin with `--password-stdin`, never from argv; without it the server
 * generates one, which is shown once.
 */
interface UserFlags {
  tenant: string;
  server?: string;
  json?: boolean;
  role?: string;
  name?: string;
  clientId?: string;
  passwordStdin?: boolean;
}

/** `ops@acme.test  admin   Ops Person` or `…  client  (client acme-co)` */
export function userLine(user: UserInfo, width: number): string {
  const client = user.clientId ? `  (client ${user.clientId})` : '';
  return `${user.email.padEnd(width)}  ${user.role.padEnd(6)}  ${user.name}${client}`.trimEnd();
}

function role(value: string | undefined): UserRole {
  if (!value || !(USER_ROLES as readonly string[]).includes(value)) {
    throw new CliError(`--role must be one of ${USER_ROLES.join(', ')}.`);
  }
  return value as UserRole;
}

/** The whole of stdin, without the newline `echo` adds; refused when it is a terminal or too short. */
async function passwordFromStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new CliError('--password-stdin reads a pipe: printf %s "$PASSWORD" | alga users add …');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value.length < MIN_PASSWORD_LENGTH)
    throw new CliError(`The password must be at least ${MIN_PASSWORD_LENGTH} characters; nothing was changed.`);
  return value;
}

const tenantOption = ['--tenant <tenant>', 'the tenant (id or name)'] as const;
const serverOption = ['--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)'] as const;

export function register(program: Command): void {
  const users = program
    .command('users')
    .description("Platform operator: add and list a tenant's web UI users (needs ALGA_OPERATOR_KEY)");

  users
    .command('list')
    .description("A tenant's users, by email")
    .requiredOption(...tenantOption)
    .option(...serverOption)
    .option('--json', 'print JSON')
    .action(async (opts: UserFlags) => {
      const list = await (await operatorClient(opts)).users(opts.tenant);
      if (opts.json) return printJson(list.users);
      if (list.users.length === 0)
        return console.log(
          `Tenant ${list.tenant.name} has no users yet: alga users add <email> --tenant ${list.tenant.name}`,
        );
      const width = Math.max(...list.users.map((u) => u.email.length));
      for (const user of list.users) console.log(userLine(user, width));
    });

  users
    .command('add <email>')
    .description(
      'Add a user who signs in to the web UI; without --password-stdin a password is generated and shown once',
    )
    .requiredOption(...tenantOption)
    .requiredOption('--role <role>', `${USER_ROLES.join(' | ')} (client: a client-portal user; needs --client-id)`)
    .option('--name <name>', 'display name')
    .option('--client-id <id>', 'the client a client-portal user belongs to (what extensions read as its client id)')
    .option('--password-stdin', `read the password from stdin (at least ${MIN_PASSWORD_LENGTH} characters)`)
    .option(...serverOption)
    .option('--json', 'print JSON (with a generated password)')
    .action(async (email: string, opts: UserFlags) => {
      const chosen = role(opts.role);
      if (chosen === 'client' && !opts.clientId)
        throw new CliError('A client-portal user needs the client it belongs to: add --client-id <id>.');
      if (chosen !== 'client' && opts.clientId)
        throw new CliError(`Only client-portal users (--role client) take --client-id; drop it for ${chosen}.`);
      const password = opts.passwordStdin ? await passwordFromStdin() : undefined;
      const created = await (
        await operatorClient(opts)
      ).addUser(opts.tenant, {
        email,
        role: chosen,
        ...(opts.name === undefined ? {} : { name: opts.name }),
        ...(opts.clientId === undefined ? {} : { clientId: opts.clientId }),
        ...(password === undefined ? {} : { password }),
      });
      if (opts.json) return printJson(created);
      console.log(`Added ${created.user.email} (${created.user.role}) to tenant ${created.tenant.name}.`);
      if (created.password) {
        status('The password below is shown once; only its hash is kept. Hand it over safely.');
        console.log(created.password);
      }
    });
}
