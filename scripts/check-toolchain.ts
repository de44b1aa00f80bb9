/** Fails fast, in one line, when the pinned build toolchain is not what is installed. */
import { checkToolchain, ToolchainError } from '@alga-psa/cli';

try {
  const versions = checkToolchain();
  console.log(
    `Toolchain OK: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
} catch (error) {
  console.error(error instanceof ToolchainError ? error.message : error);
  process.exit(1);
}
