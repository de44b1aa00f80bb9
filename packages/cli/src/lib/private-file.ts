import { open, rm } from 'node:fs/promises';
import { CliError } from './errors.ts';

/** A new file, readable by its owner only, created before what it will hold exists. */
interface ReservedFile {
  write(content: string): Promise<void>;
  /** Removes the still empty file (the work that would have filled it failed). */
  discard(): Promise<void>;
}

/**
 * Creates `file` (0600) and refuses an existing one, before the caller asks
 * the server for a key to put in it: a bad path must fail before the key is
 * made, or the key would be lost with nowhere to go.
 */
async function reservePrivateFile(file: string): Promise<ReservedFile> {
  const handle = await open(file, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') throw new CliError(`${file} exists already; choose a new file for the key.`);
    throw new CliError(`Cannot create ${file}: ${error.message}`);
  });
  return {
    async write(content) {
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
    },
    async discard() {
      await handle.close();
      await rm(file, { force: true });
    },
  };
}

/** Runs `make` with `file` reserved first (when given) and writes what it returns there. */
export async function intoPrivateFile<T>(
  file: string | undefined,
  make: () => Promise<T>,
  content: (made: T) => string,
): Promise<T> {
  const reserved = file ? await reservePrivateFile(file) : undefined;
  let made: T;
  try {
    made = await make();
  } catch (error) {
    await reserved?.discard();
    throw error;
  }
  await reserved?.write(content(made));
  return made;
}
