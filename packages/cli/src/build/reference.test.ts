import assert from 'node:assert/strict';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildExtension, BuildError } from './index.ts';

/** A reference-host project: reference manifest, handler where its samples keep it. */
async function referenceProject(files: Record<string, string>, capabilities: string[] = []): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-ref-build-'));
  const manifest = {
    name: 'com.example.ref',
    publisher: 'Example Co',
    version: '0.1.*',
    runtime: 'wasm-js@1',
    capabilities,
  };
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

async function buildError(dir: string): Promise<BuildError> {
  const error = await buildExtension({ dir }).then(
    () => assert.fail('the build should have been refused'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof BuildError, String(error));
  return error;
}

test('an unversioned import of an interface this platform lacks is refused naming the file, before componentize-js', async () => {
  const dir = await referenceProject({
    'src/backend/index.ts':
      "import './wiring.ts';\nexport async function handler() { return { status: 200, headers: [] }; }\n",
    'src/backend/wiring.ts': "import { getEndpoints } from 'alga:extension/payroll';\nexport const x = getEndpoints;\n",
  });
  const error = await buildError(dir);
  assert.match(error.message, /src\/backend\/wiring\.ts imports alga:extension\/payroll, which this platform's WIT/);
  assert.doesNotMatch(error.message, /ReferenceError|wizer/);
});

test('a versioned import beyond the manifest stays an error: that code was written for this host', async () => {
  const dir = await referenceProject({
    'src/handler.ts': "import { fetch } from 'alga:extension/http@0.1.0';\nexport const handler = () => fetch;\n",
  });
  const error = await buildError(dir);
  assert.match(
    error.message,
    /src\/handler\.ts imports alga:extension\/http@0\.1\.0, but manifest\.json does not declare "cap:http\.fetch"/,
  );
});

test('a project with no entry the build knows is told where it looked', async () => {
  const dir = await referenceProject({ 'lib/other.ts': 'export {};\n' });
  const error = await buildError(dir);
  assert.match(error.message, /looked for src\/index\.ts, .*src\/backend\/index\.ts/);
});

test("a project with the reference's SDK installed builds: the generated entry brings its own runtime", async () => {
  const dir = await referenceProject({
    'src/index.ts': [
      "import { jsonResponse } from '@alga-psa/extension-runtime';",
      'export async function handler(request: { http: { url: string } }) {',
      '  return jsonResponse({ url: request.http.url });',
      '}',
      '',
    ].join('\n'),
  });
  // As `npm install @alga-psa/extension-runtime@0.3.0` leaves it: the package exports only ".".
  const entry = fileURLToPath(import.meta.resolve('alga-reference-sdk'));
  const reference = entry.slice(0, entry.lastIndexOf('/alga-reference-sdk/') + '/alga-reference-sdk'.length);
  await mkdir(path.join(dir, 'node_modules/@alga-psa'), { recursive: true });
  await symlink(reference, path.join(dir, 'node_modules/@alga-psa/extension-runtime'), 'dir');
  const built = await buildExtension({ dir });
  assert.ok(built.metadata.size > 0);
});
