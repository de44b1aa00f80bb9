/**
 * Runs LAST: `npm test` (scripts/test.ts) starts it after every other file
 * has finished (plain `node --test` sorts by path, so `zz-` is last there too).
 * Scans every artifact the suite wrote under ALGA_TEST_ARTIFACTS (process
 * logs, captured responses, metrics scrapes, database dumps) for the suite's
 * canary secret in plain, base64, base64url, hex, URL-encoded and
 * JSON-escaped form. See test/adversarial/lib/canary.ts for the design.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canaryRun, scanForCanary } from '../adversarial/lib/canary.ts';

const run = canaryRun();

test(
  'no artifact of the whole suite holds the canary secret in any encoding',
  {
    skip: run.shared
      ? false
      : 'ALGA_TEST_CANARY is not set: run through `npm test`; each file still scans its own artifacts',
  },
  async () => {
    const { files, hits } = await scanForCanary(run.dir, run.canary);
    assert.ok(files > 0, `no artifacts under ${run.dir}: did the adversarial and fault tests run?`);
    assert.deepEqual(hits, [], `the canary leaked; artifacts kept in ${run.dir}`);
  },
);
