/**
 * Publisher keys and bundle signatures for `alga keys`, `alga sign` and
 * `alga publish --sign`. The format and the crypto are service-auth's
 * bundle-signature module (the one the server and runners verify with);
 * here is only where the files live and what is signed.
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { contentHashOf } from '@alga-psa/bundle-store';
import {
  generatePublisherKey,
  loadPublisherPrivateKey,
  manifestDigest,
  parseSignature,
  signBundle,
  writeNewFile,
  type BundleSignature,
} from '@alga-psa/service-auth/bundle-signature';
import { CliError } from './errors.ts';

/** `$XDG_CONFIG_HOME/alga/keys`, default `~/.config/alga/keys` (0700), never inside a project. */
export function keysDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(homedir(), '.config');
  return path.join(base, 'alga', 'keys');
}

export interface GeneratedKey {
  keyId: string;
  privateKeyFile: string;
  publicKeyFile: string;
  publicKeyPem: string;
}

/** Writes `<name>.key.pem` (0600) and `<name>.pub.pem`; refuses to overwrite either. */
export async function generateKeyFiles(dir: string, name: string): Promise<GeneratedKey> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new CliError(`Key name "${name}" must be letters, digits, ".", "_" or "-" (at most 64).`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKeyFile = path.join(dir, `${name}.key.pem`);
  const publicKeyFile = path.join(dir, `${name}.pub.pem`);
  for (const file of [privateKeyFile, publicKeyFile]) {
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) throw new CliError(`${file} already exists; pick another --name or move it away first.`);
  }
  const pair = generatePublisherKey();
  await writeNewFile(privateKeyFile, pair.privateKeyPem, 0o600);
  // The umask may have cleared bits, never added them; pin 0600 anyway (loadPublisherPrivateKey insists).
  await chmod(privateKeyFile, 0o600);
  await writeNewFile(publicKeyFile, pair.publicKeyPem, 0o644);
  return { keyId: pair.keyId, privateKeyFile, publicKeyFile, publicKeyPem: pair.publicKeyPem };
}

async function privateKey(file: string) {
  try {
    return await loadPublisherPrivateKey(file);
  } catch (error) {
    throw new CliError(`Cannot use ${file} as a publisher key: ${(error as Error).message}`);
  }
}

/** What a signature covers, read from a bundle archive (`alga pack` output): component hash and manifest. */
export async function archiveSubject(file: string): Promise<{ contentHash: string; manifest: unknown }> {
  const files = new Map<string, Buffer>();
  try {
    await tar.t({
      file,
      onReadEntry: (entry) => {
        const name = entry.path.replace(/^\.\//, '');
        if (name !== 'manifest.json' && name !== 'component.wasm') return entry.resume();
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => files.set(name, Buffer.concat(chunks)));
      },
    });
  } catch (error) {
    throw new CliError(`Cannot read ${file} as a bundle archive: ${(error as Error).message}`);
  }
  const manifest = files.get('manifest.json');
  const component = files.get('component.wasm');
  if (!manifest || !component)
    throw new CliError(`${file} has no manifest.json or component.wasm; make it with \`alga pack\`.`);
  try {
    return { contentHash: contentHashOf(component), manifest: JSON.parse(manifest.toString('utf8')) as unknown };
  } catch {
    throw new CliError(`${file}'s manifest.json is not JSON.`);
  }
}

export async function signSubject(
  keyFile: string,
  subject: { contentHash: string; manifest: unknown },
): Promise<BundleSignature> {
  return signBundle(await privateKey(keyFile), subject.contentHash, manifestDigest(subject.manifest));
}

/** A signature file written by `alga sign`, checked for shape (the server checks the rest). */
export async function readSignatureFile(file: string): Promise<BundleSignature> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new CliError(`Cannot read the signature ${file}: ${(error as Error).message}`);
  }
  const parsed = parseSignature(json);
  if ('reason' in parsed) throw new CliError(`${file} is not a bundle signature: ${parsed.detail}.`);
  return parsed;
}
