import type { Command } from 'commander';
import { buildExtension } from '../build/index.ts';
import { formatBytes, formatMs, progressReporter } from '../output.ts';

export function register(program: Command): void {
  program
    .command('build')
    .description('Type-check, bundle and componentize the extension into dist/component.wasm')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--force', 'rebuild even if nothing changed')
    .option('--no-typecheck', 'skip the type check (not recommended)')
    .action(async (opts: { dir: string; force?: boolean; typecheck: boolean }) => {
      const progress = progressReporter();
      try {
        const result = await buildExtension({
          dir: opts.dir,
          force: opts.force,
          typeCheck: opts.typecheck,
          onProgress: progress.step,
        });
        progress.done();
        const { metadata } = result;
        console.log(
          `Built ${metadata.name}@${metadata.version}${result.cached ? ' (unchanged, reused)' : ''} in ${formatMs(result.durationMs)}`,
        );
        console.log(`  dist/component.wasm  ${formatBytes(metadata.size)}  ${metadata.contentHash}`);
        console.log(`  dist/metadata.json   imports: ${metadata.imports.join(', ') || '(none)'}`);
        for (const warning of result.warnings) console.error(`warning: ${warning}`);
      } finally {
        progress.done();
      }
    });
}
