import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const protocolPackage = JSON.parse(readFileSync(path.join(repo, 'packages/protocol/package.json'), 'utf8')) as {
  sideEffects?: unknown;
};

// A bundler may drop protocol's unused modules (schemas, the error registry)
// only when protocol's package.json says importing it has no side effects.
const todo =
  protocolPackage.sideEffects === false ? false : 'needs "sideEffects": false in packages/protocol/package.json';

test(
  'bundled for a browser, the package takes only the CSRF header name and the bridge schema from protocol',
  { todo },
  async () => {
    const out = await build({
      entryPoints: [path.join(here, 'index.ts')],
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      logLevel: 'silent',
    });
    const [output] = Object.values(out.metafile.outputs);
    const used = Object.entries(output!.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([file]) => path.relative(repo, path.resolve(file)))
      .sort();
    const expected = [
      'packages/extension-ui/src/bridge.ts',
      'packages/extension-ui/src/index.ts',
      'packages/protocol/src/csrf.ts',
      'packages/protocol/src/ui-bridge.ts',
    ];
    // A summary rather than the list: when tree-shaking fails the list runs to hundreds of modules.
    assert.ok(
      used.length === expected.length && used.every((file, i) => file === expected[i]),
      `the bundle carries ${used.length} modules (${used.slice(0, 3).join(', ')}, …), not just ${expected.join(' and ')}`,
    );
  },
);
