import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostTrap } from '../../host-calls/index.ts';
import { testScope } from '../../testing/scope.ts';
import { randomProvider } from './index.ts';

// HostFunction's argument list is the WIT's; tests pass a length as jco would.
const getRandomBytes = (scope: ReturnType<typeof testScope>['scope'], len: number) =>
  randomProvider.create().functions.getRandomBytes(scope, len as number);

test('answers the requested number of bytes, different on every call', async () => {
  const scope = testScope({ providers: ['cap:context.read'] }).scope;
  const a = (await getRandomBytes(scope, 16)) as Uint8Array;
  const b = (await getRandomBytes(scope, 16)) as Uint8Array;
  assert.equal(a.length, 16);
  assert.notDeepEqual(a, b);
});

test('refuses lengths above the Web Crypto cap or that are not integers', () => {
  const scope = testScope({ providers: ['cap:context.read'] }).scope;
  assert.throws(() => getRandomBytes(scope, 65_537), HostTrap);
  assert.throws(() => getRandomBytes(scope, 1.5), HostTrap);
});

test('without cap:context.read the call traps', () => {
  assert.throws(() => randomProvider.create().denied('getRandomBytes', testScope({ providers: [] }).scope), HostTrap);
});

test('hands out every byte of its CSPRNG blocks once, across refills, and large reads whole', () => {
  const scope = testScope({ providers: ['cap:context.read'] }).scope;
  const provider = randomProvider.create();
  const read = (len: number) => provider.functions.getRandomBytes(scope, len as number) as Uint8Array;
  const seen = new Set<string>();
  // 700 × 24 bytes spans four 4 KiB blocks; a repeat would mean a byte range served twice.
  for (let i = 0; i < 700; i++) {
    const bytes = read(24);
    assert.equal(bytes.length, 24);
    const hex = Buffer.from(bytes).toString('hex');
    assert.ok(!seen.has(hex), `read ${i} repeated an earlier one`);
    seen.add(hex);
    bytes.fill(0); // a copy: scribbling on it cannot touch what later reads get
  }
  assert.equal(read(65_536).length, 65_536);
  assert.notDeepEqual(read(24), new Uint8Array(24));
});
