/**
 * What the runner assumes about jco's generated glue, checked against the
 * glue the pinned jco generates for a real component. A failure here after a
 * jco upgrade means jco-glue.ts must be revisited before anything else.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { transpile } from '@bytecodealliance/jco';
import { buildFixture } from '../testing/build-fixture.ts';
import { FIXTURE_GUEST, FIXTURE_WORLD } from '../testing/guest.ts';
import {
  describeFailure,
  directHostImports,
  directMonotonicClock,
  GLUE_NAME,
  guestValue,
  importKeys,
  JCO_DEBUG_CHECK,
  readDebugFlagOnce,
  transpileComponent,
} from './jco-glue.ts';

describe("jco's glue, as the runner uses it", () => {
  let raw: string;
  before(async () => {
    const { files } = await transpile(await buildFixture(FIXTURE_GUEST, FIXTURE_WORLD), {
      name: GLUE_NAME,
      instantiation: 'sync',
      noTypescript: true,
      quiet: true,
    });
    raw = Buffer.from(files[`${GLUE_NAME}.js`]!).toString('utf8');
  });

  it('still checks JCO_DEBUG with the exact text readDebugFlagOnce patches, and no check is left after', () => {
    assert.ok(raw.includes(JCO_DEBUG_CHECK), 'the glue no longer carries the check readDebugFlagOnce rewrites');
    const patched = readDebugFlagOnce(raw);
    assert.equal(patched.split(JCO_DEBUG_CHECK).length, 2, 'only the one read at load time remains');
    assert.equal(readDebugFlagOnce('no check here'), 'no check here');
  });

  it("hands every core module the host's monotonic clock directly, not through a task trampoline", () => {
    const imported =
      raw.match(/'wasi:clocks\/monotonic-clock@[\w.-]+': \{\s*now: Object\.assign\(trampoline\d+/g) ?? [];
    assert.ok(imported.length > 0, 'the glue no longer imports the clock in the shape directMonotonicClock rewrites');
    const patched = directMonotonicClock(raw);
    const direct =
      patched.match(/now: Object\.assign\(\(\) => toUint64\(now\(\)\), \{ _jcoMaySuspend: false \}\)/g) ?? [];
    assert.equal(direct.length, imported.length);
    assert.equal(directMonotonicClock('no clock here'), 'no clock here');
  });

  it('lowers every sync host import to a direct trampoline, with no task left in it', () => {
    const lowered = [...raw.matchAll(/importFn: _trampoline(\d+),/g)].map((m) => m[1]);
    const hostImports = new Set(lowered);
    assert.ok(hostImports.size > 0, 'the glue no longer lowers imports through _lowerImportBackwardsCompat');
    const patched = directHostImports(raw);
    const wired = new Set([...patched.matchAll(/: _guardMayLeave\(\d+, _algaDirect(\d+)\);/g)].map((m) => m[1]));
    // Every alga:extension import a guest makes per request, and the WASI ones, take the direct path.
    const named = [...raw.matchAll(/_trampoline(\d+)\.fnName = '([^']+)';/g)];
    const missed = named.filter(([, index]) => hostImports.has(index) && !wired.has(index)).map(([, , name]) => name);
    assert.deepEqual(missed, [], 'a jco upgrade changed the shape directHostImports rewrites');
    for (const index of wired) {
      const body = /const _algaDirect\d+ = function\([^)]*\) \{\n([\s\S]*?)\n {2}\};\n/.exec(
        patched.slice(patched.indexOf(`const _algaDirect${index} = `)),
      )?.[1];
      assert.ok(body, `no direct trampoline for ${index}`);
      assert.doesNotMatch(body, /\b(?:task|subtask|parentTask|createNewCurrentTask|_withGlobalCurrentTaskMeta)\b/);
      assert.match(body, /_trackHostOperation\(\(\) => /, 'the host call itself is kept');
    }
    // The JSPI branch of each lowering is left as jco wrote it.
    assert.equal(
      (patched.match(/new WebAssembly\.Suspending\(_suspendingImport\(/g) ?? []).length,
      (raw.match(/new WebAssembly\.Suspending\(_suspendingImport\(/g) ?? []).length,
    );
    assert.equal(directHostImports('no glue here'), 'no glue here');
  });

  it('exports instantiate(getCoreModule, imports, instantiateCore), the hook the reset snapshot records through', () => {
    assert.match(raw, /export function instantiate\(getCoreModule, imports, instantiateCore\b/);
  });

  it("looks imports up by the unversioned interface name, one of importKeys' keys", () => {
    const [unversioned] = importKeys('secrets');
    assert.ok(raw.includes(`imports['${unversioned}']`));
  });

  it("lowers a thrown value's own `payload` into the result's err case, as guestValue throws it", () => {
    assert.match(
      raw,
      /function getErrorPayload\(e\) \{\s*if \(e && hasOwnProperty\.call\(e, 'payload'\)\) return e\.payload;/,
    );
    assert.throws(
      () => guestValue('secrets', 'get', { kind: 'err', payload: 'missing' }),
      (error: unknown) => (error as { payload?: unknown }).payload === 'missing',
    );
    assert.equal(guestValue('secrets', 'get', { kind: 'ok', value: 'v' }), 'v');
    assert.throws(() => guestValue('secrets', 'get', { kind: 'trap', message: 'no' }), /no/);
  });

  it('transpiles to the patched glue and the core modules; a failure reads without the glue source', async () => {
    const transpiled = await transpileComponent(await buildFixture(FIXTURE_GUEST, FIXTURE_WORLD));
    assert.ok(!transpiled.glue.includes(`if (!${JCO_DEBUG_CHECK})`));
    assert.ok(Object.keys(transpiled.wasm).length > 0);
    const error = new Error('trap');
    error.stack = `Error: trap\n    at data:text/javascript;base64,${'A'.repeat(10_000)}:1:2`;
    assert.equal(describeFailure(error), 'Error: trap\n    at <component glue>:1:2');
  });
});
