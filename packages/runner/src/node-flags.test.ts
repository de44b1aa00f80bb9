import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { RUNNER_NODE_FLAGS, youngGenerationCapped } from './node-flags.ts';

const run = promisify(execFile);
const repo = (file: string) => new URL(`../../../${file}`, import.meta.url);

/** Allocates with ~20 MB always alive (a sliding window), then prints the new space's size in MB. */
const GROW_NEW_SPACE = `
  const window = new Array(150000);
  for (let i = 0; i < 600000; i++) window[i % window.length] = { i, s: 'x'.repeat(40) + i };
  const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  console.log(space.space_size / 2 ** 20);
`;

describe('the runner process flags', () => {
  it('are the ones the container image, npm start and the bench start the runner with', async () => {
    const dockerfile = await readFile(repo('deploy/docker/runner.Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    assert.deepEqual(cmd, ['node', ...RUNNER_NODE_FLAGS, 'packages/runner/src/main.ts']);
    const main = await readFile(new URL('./main.ts', import.meta.url), 'utf8');
    assert.equal(main.split('\n')[0], `#!/usr/bin/env -S node ${RUNNER_NODE_FLAGS.join(' ')}`);
    for (const script of ['scripts/lib/platform.ts', 'bench/lib/services.ts']) {
      assert.match(await readFile(repo(script), 'utf8'), /nodeArgs: RUNNER_NODE_FLAGS/, script);
    }
  });

  it('cap the young generation at three semi-spaces, where V8 alone grows it further', async () => {
    const size = async (flags: readonly string[]) =>
      Number((await run(process.execPath, [...flags, '-e', GROW_NEW_SPACE])).stdout.trim());
    const semiSpaceMb = Number(/^--max-semi-space-size=(\d+)$/.exec(RUNNER_NODE_FLAGS[0]!)![1]);
    const [capped, uncapped] = await Promise.all([size(RUNNER_NODE_FLAGS), size([])]);
    assert.ok(capped <= 3 * semiSpaceMb, `capped new space ${capped} MB`);
    // Otherwise this workload would not show that the flag does anything.
    assert.ok(uncapped > 3 * semiSpaceMb, `uncapped new space ${uncapped} MB`);
  });

  it('are recognised on the command line and in NODE_OPTIONS, in either spelling', () => {
    assert.equal(youngGenerationCapped(['--max-semi-space-size=16']), true);
    assert.equal(youngGenerationCapped([], '--enable-source-maps --max_semi_space_size=8'), true);
    assert.equal(youngGenerationCapped(['--max-old-space-size=512'], '--max-semi-space-sizes=1'), false);
    assert.equal(youngGenerationCapped([]), false);
  });
});
