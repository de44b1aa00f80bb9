import { open } from 'node:fs/promises';
import { CliError } from './errors.ts';

/** Writes `content` to a file that must not exist yet, readable by its owner only. */
export async function writeNewPrivateFile(file: string, content: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') throw new CliError(`${file} exists already; choose a new file for the key.`);
    throw new CliError(`Cannot create ${file}: ${error.message}`);
  });
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}
