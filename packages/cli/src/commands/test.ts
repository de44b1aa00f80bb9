import path from 'node:path';
import type { Command } from 'commander';
import { buildExtension } from '../build/index.ts';
import { CliError } from '../lib/errors.ts';
import { progressReporter } from '../output.ts';
import { FIXTURE_FILE, readFixture, runComponentTests } from '../test/index.ts';

export function register(program: Command): void {
  program
    .command('test')
    .description(
      `Run the built component in the real runner against the requests, config, secrets, storage and canned HTTP in ${FIXTURE_FILE}`,
    )
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--fixture <file>', `fixture file (default: ${FIXTURE_FILE} in the extension folder)`)
    .option('--no-build', 'test dist/component.wasm as it is (default: build first, reusing an unchanged build)')
    .option('--json', 'print the results as JSON')
    .action(async (opts: { dir: string; fixture?: string; build: boolean; json?: boolean }) => {
      const dir = path.resolve(opts.dir);
      const fixture = await readFixture(opts.fixture ? path.resolve(opts.fixture) : path.join(dir, FIXTURE_FILE));
      if (opts.build) {
        const progress = progressReporter();
        await buildExtension({ dir, onProgress: progress.step }).finally(progress.done);
      }
      const results = await runComponentTests({ dir, fixture });
      const failed = results.filter((r) => !r.ok);
      if (opts.json) console.log(JSON.stringify(results, null, 2));
      else {
        for (const result of results) {
          console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.name} (${result.status})`);
          for (const problem of result.problems) console.log(`       ${problem}`);
        }
        console.log(
          `${results.length - failed.length} passed, ${failed.length} failed (dist/component.wasm in the runner)`,
        );
      }
      if (failed.length > 0) throw new CliError(`${failed.length} of ${results.length} component tests failed.`);
    });
}
