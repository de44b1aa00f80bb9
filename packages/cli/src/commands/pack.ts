import path from 'node:path';
import type { Command } from 'commander';
import { packExtension } from '../pack/index.ts';
import { formatBytes, progressReporter } from '../output.ts';

export function register(program: Command): void {
  program
    .command('pack')
    .description('Build and write the bundle archive dist/<name>-<version>.tgz (deterministic)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .action(async (opts: { dir: string }) => {
      const progress = progressReporter();
      const result = await packExtension({ dir: opts.dir, onProgress: progress.step }).finally(progress.done);
      console.log(`Packed ${path.relative(process.cwd(), result.file)}  ${formatBytes(result.size)}  ${result.sha256}`);
      for (const entry of result.entries) console.log(`  ${entry}`);
    });
}
