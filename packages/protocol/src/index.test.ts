import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';

it('importing the package compiles no schema and loads neither Ajv nor Fastify', () => {
  // A fresh process, so nothing another test imported is counted.
  const probe = `
    import { createRequire } from 'node:module';
    const before = new Set(Object.keys(createRequire(import.meta.url).cache));
    await import('@alga-psa/protocol');
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => !before.has(k));
    console.log(JSON.stringify(loaded));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: import.meta.dirname,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  const loaded = JSON.parse(result.stdout.trim()) as string[];
  assert.deepEqual(
    loaded.filter((file) => /[/\\]node_modules[/\\](ajv|fastify)[/\\]/.test(file)),
    [],
  );
});
