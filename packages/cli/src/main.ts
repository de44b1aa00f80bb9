import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.ts';
import { ServerApiError } from './api/client.ts';

const program = new Command()
  .name('alga')
  .description('Build, run and publish Alga extensions')
  // The package's own version, the same in the repository (src/) and the published package (dist/src/).
  .version(
    (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version,
  )
  // Program options only before the command: `alga extension install X --version 1.0` (the
  // reference CLI's spelling) is the command's --version, not the program's.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride();

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // One line that says what is wrong and what to do; no stack for expected errors.
  const expected =
    error instanceof Error &&
    ['BuildError', 'ManifestError', 'ToolchainError', 'ServerApiError', 'CliError'].includes(error.name);
  const message = error instanceof Error ? error.message : String(error);
  console.error(`alga: ${message}${error instanceof ServerApiError && error.code ? ` [${error.code}]` : ''}`);
  // The server's 404 says what; the next step is the CLI's to say.
  const notInstalled = /^Extension "([^"]+)" is not installed for this tenant\.$/.exec(message);
  if (error instanceof ServerApiError && error.code === 'ALGA_NOT_FOUND' && notInstalled) {
    console.error(`alga: install it first: alga install ${notInstalled[1]}`);
  }
  if (!expected && error instanceof Error && error.stack) console.error(error.stack);
  process.exit(1);
}
