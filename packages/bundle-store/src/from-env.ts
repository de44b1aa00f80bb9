import { readFileSync } from 'node:fs';
import { DirectoryBundleStore, type BundleStore } from './index.ts';
import { S3BundleStore } from './s3.ts';

/**
 * The bundle store an operator configured:
 * - `ALGA_BUNDLE_STORE=dir` (default): `ALGA_BUNDLE_DIR` (or `defaultDir`).
 * - `ALGA_BUNDLE_STORE=s3`: `S3_ENDPOINT`, `S3_BUCKET`, `S3_REGION`, `S3_PREFIX`,
 *   credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or, better,
 *   files named by `S3_ACCESS_KEY_ID_FILE`/`S3_SECRET_ACCESS_KEY_FILE`.
 * Throws one message listing every missing setting.
 */
export function bundleStoreFromEnv(env: NodeJS.ProcessEnv, defaultDir?: string): BundleStore {
  const kind = env.ALGA_BUNDLE_STORE ?? 'dir';
  if (kind === 'dir') {
    const dir = env.ALGA_BUNDLE_DIR ?? defaultDir;
    if (!dir) throw new Error('ALGA_BUNDLE_DIR is required when ALGA_BUNDLE_STORE=dir.');
    return new DirectoryBundleStore(dir);
  }
  if (kind !== 's3') throw new Error(`ALGA_BUNDLE_STORE must be "dir" or "s3", got ${JSON.stringify(kind)}.`);
  const fromFile = (name: string) =>
    env[`${name}_FILE`] ? readFileSync(env[`${name}_FILE`]!, 'utf8').trim() : undefined;
  const accessKeyId = fromFile('S3_ACCESS_KEY_ID') ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = fromFile('S3_SECRET_ACCESS_KEY') ?? env.AWS_SECRET_ACCESS_KEY;
  const missing = [
    ['S3_ENDPOINT', env.S3_ENDPOINT],
    ['S3_BUCKET', env.S3_BUCKET],
    ['S3_ACCESS_KEY_ID_FILE or AWS_ACCESS_KEY_ID', accessKeyId],
    ['S3_SECRET_ACCESS_KEY_FILE or AWS_SECRET_ACCESS_KEY', secretAccessKey],
  ]
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length > 0) throw new Error(`ALGA_BUNDLE_STORE=s3 needs: ${missing.join(', ')}.`);
  return new S3BundleStore({
    endpoint: env.S3_ENDPOINT!,
    bucket: env.S3_BUCKET!,
    region: env.S3_REGION,
    prefix: env.S3_PREFIX,
    accessKeyId: accessKeyId!,
    secretAccessKey: secretAccessKey!,
    sessionToken: env.AWS_SESSION_TOKEN,
  });
}
