/**
 * One canary secret for the whole suite. `node --test` runs every file in its
 * own process, so the value and the place artifacts go travel through the
 * environment: the global setup (`global-setup.ts`, called by `npm test`'s
 * scripts/test.ts) sets ALGA_TEST_CANARY and ALGA_TEST_ARTIFACTS before any
 * file starts. Tests that set secrets use the canary, write every process
 * log, captured response, metrics scrape and database dump under the
 * artifacts dir, and `test/faults/zz-canary-scan.test.ts`, run after every
 * other file has finished, scans all of it. A file run on its own gets a private canary and dir, and
 * still scans its own artifacts.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CanaryRun {
  canary: string;
  /** Where this run's artifacts go. */
  dir: string;
  /** True when the value came from the global setup, i.e. the final scan will see this file's artifacts. */
  shared: boolean;
}

let run: CanaryRun | undefined;

export function canaryRun(): CanaryRun {
  if (run) return run;
  const canary = process.env['ALGA_TEST_CANARY'];
  const dir = process.env['ALGA_TEST_ARTIFACTS'];
  if (canary && dir) {
    mkdirSync(dir, { recursive: true });
    run = { canary, dir, shared: true };
  } else {
    run = {
      canary: newCanary(),
      dir: mkdtempSync(path.join(tmpdir(), 'alga-canary-')),
      shared: false,
    };
  }
  return run;
}

/** Recognisable, and long enough that no log line holds it by chance. */
export function newCanary(): string {
  return `canary-${randomBytes(16).toString('hex')}`;
}

/** The forms a leak could take: plain, base64 (padded and not), base64url, hex, URL-encoded, JSON-escaped. */
export function canaryForms(canary: string): string[] {
  const bytes = Buffer.from(canary, 'utf8');
  const forms = new Set([
    canary,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(canary),
    JSON.stringify(canary).slice(1, -1),
  ]);
  return [...forms];
}

/** Appends one captured artifact (a response, a metrics scrape, a table dump) under `<dir>/<group>/<name>`. */
export async function recordArtifact(group: string, name: string, text: string): Promise<void> {
  const folder = path.join(canaryRun().dir, group);
  mkdirSync(folder, { recursive: true });
  await appendFile(path.join(folder, name), `${text}\n`, { mode: 0o600 });
}

export interface CanaryHit {
  file: string;
  form: string;
}

/** Every file under `dir` (recursively) that holds the canary in any form. */
export async function scanForCanary(dir: string, canary: string): Promise<{ files: number; hits: CanaryHit[] }> {
  const forms = canaryForms(canary).map((form) => Buffer.from(form, 'utf8'));
  const hits: CanaryHit[] = [];
  let files = 0;
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        files += 1;
        const bytes = await readFile(full);
        for (const form of forms) {
          if (bytes.includes(form)) hits.push({ file: path.relative(dir, full), form: form.toString().slice(0, 8) });
        }
      }
    }
  };
  await walk(dir);
  return { files, hits };
}
