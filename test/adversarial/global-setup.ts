/**
 * Runs once in the parent process before any test file: `npm test`
 * (scripts/test.ts) calls it, as does `node --test --test-global-setup=…`. Every test file is a child
 * process that inherits this environment, which is how one canary secret and
 * one artifacts dir reach the whole suite (see lib/canary.ts).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newCanary } from './lib/canary.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function globalSetup(): Promise<void> {
  // Kept after the run (test-results/ is git-ignored) so a failed scan can be inspected.
  const dir = process.env['ALGA_TEST_ARTIFACTS'] ?? path.join(repo, 'test-results', 'canary');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  process.env['ALGA_TEST_ARTIFACTS'] = dir;
  process.env['ALGA_TEST_CANARY'] ??= newCanary();
}
