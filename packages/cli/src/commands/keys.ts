import type { Command } from 'commander';
import { apiClient } from '../lib/credentials.ts';
import { generateKeyFiles, keysDir } from '../lib/signing.ts';

export function register(program: Command): void {
  const keys = program.command('keys').description('Publisher signing keys (Ed25519) for signed bundles');
  keys
    .command('generate')
    .description('Create a publisher key pair: the private key stays on this machine (0600), never uploaded')
    .option('--name <name>', 'file name of the pair', 'publisher')
    .option('--out <dir>', 'folder for the key files (default: ~/.config/alga/keys)')
    .action(async (opts: { name: string; out?: string }) => {
      const key = await generateKeyFiles(opts.out ?? keysDir(), opts.name);
      console.log(`Created publisher key ${key.keyId}`);
      console.log(
        `  private key: ${key.privateKeyFile} (keep it secret; sign with: alga publish --sign ${key.privateKeyFile})`,
      );
      console.log(`  public key:  ${key.publicKeyFile}`);
      console.log('Give the operator the public key for the trust policy (server and runners):');
      console.log(JSON.stringify({ publicKey: key.publicKeyPem, name: opts.name, tenants: ['*'] }));
    });
  keys
    .command('revoke <keyId>')
    .description('Revoke a publisher key for your tenant: versions it signed stop running (audited)')
    .requiredOption('--reason <text>', 'why (kept with the revocation)')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .action(async (keyId: string, opts: { reason: string; server?: string }) => {
      const client = await apiClient(opts);
      const result = await client.revokeSigningKey(keyId, opts.reason);
      console.log(
        `Revoked ${keyId}: ${result.versionsSigned} version(s) of your extensions signed by it will no longer run.`,
      );
    });
}
