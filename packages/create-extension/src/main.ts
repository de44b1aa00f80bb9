/** `npm create @alga-psa/extension <name> [-- --dir <dir>] [-- --no-install]`. */
import { parseArgs } from 'node:util';
import { createExtension } from './index.ts';

const USAGE = 'Usage: npm create @alga-psa/extension <name> [-- --dir <dir> --no-install]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'no-install': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(USAGE);
  const [name] = positionals;
  if (!name || positionals.length > 1) {
    console.error(USAGE);
    process.exit(2);
  }
  await createExtension({
    name,
    ...(values.dir ? { dir: values.dir } : {}),
    install: !values['no-install'],
  });
}

main().catch((error: unknown) => {
  console.error(`create-extension: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
