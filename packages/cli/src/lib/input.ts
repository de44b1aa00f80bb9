import { CliError } from './errors.ts';

/**
 * A secret value from a pipe (`printf %s "$TOKEN" | alga secrets set key`)
 * or a hidden prompt on a terminal. Never from argv: argv lands in shell
 * history and is visible to every user through `ps`.
 */
export async function readSecretValue(label: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    // One trailing newline is what `echo` adds, never part of the value.
    const value = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (!value)
      throw new CliError(`No value on stdin for ${label}; pipe it in: printf %s "$VALUE" | alga secrets set ${label}`);
    return value;
  }
  const { default: password } = await import('@inquirer/password');
  const value = await password({ message: `Value for ${label}:`, mask: '*' });
  if (!value) throw new CliError(`Empty value for ${label}; nothing was changed.`);
  return value;
}

/** Yes/no on a terminal; scripts pass --yes. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
