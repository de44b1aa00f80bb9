import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { packExtension } from '../pack/index.ts';
import { progressReporter } from '../output.ts';
import { archiveSubject, signSubject } from '../lib/signing.ts';

export function register(program: Command): void {
  program
    .command('sign [bundle]')
    .description(
      'Sign a bundle archive (or the extension in --dir, packed first): writes <bundle>.sig.json, a detached Ed25519 signature over its component hash and manifest',
    )
    .requiredOption('--key <file>', 'publisher private key (alga keys generate)')
    .option('-C, --dir <dir>', 'extension folder, when no bundle is given', '.')
    .option('--out <file>', 'where to write the signature (default: <bundle>.sig.json)')
    .action(async (bundle: string | undefined, opts: { key: string; dir: string; out?: string }) => {
      let file = bundle;
      if (!file) {
        const progress = progressReporter();
        file = (await packExtension({ dir: opts.dir, onProgress: progress.step }).finally(progress.done)).file;
      }
      const signature = await signSubject(opts.key, await archiveSubject(file));
      const out = opts.out ?? `${file}.sig.json`;
      await writeFile(out, `${JSON.stringify(signature, null, 2)}\n`);
      console.log(`Signed ${path.relative(process.cwd(), file)} with ${signature.keyId}`);
      console.log(`  signature: ${path.relative(process.cwd(), out)} (publish with: alga publish --signature ${out})`);
    });
}
