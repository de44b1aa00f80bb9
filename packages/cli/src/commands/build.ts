import type { Command } from 'commander';
import { buildExtension } from '../build/index.ts';
import { formatBytes, formatMs, status } from '../output.ts';

export function register(program: Command): void {
  program
    .command('build')
    .description('Bundle and componentize the extension in the current folder into dist/component.wasm')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--force', 'rebuild even if nothing changed')
    .action(async (opts: { dir: string; force?: boolean }) => {
      const result = await buildExtension({ dir: opts.dir, force: opts.force, onProgress: (m) => status(`  ${m}…`) });
      const { metadata } = result;
      console.log(
        `Built ${metadata.name}@${metadata.version}${result.cached ? ' (unchanged, reused)' : ''} in ${formatMs(result.durationMs)}`,
      );
      console.log(`  dist/component.wasm  ${formatBytes(metadata.size)}  ${metadata.contentHash}`);
      console.log(`  dist/metadata.json   imports: ${metadata.imports.join(', ') || '(none)'}`);
    });
}
