// Property tests: whatever a client sends, the validator answers with a
// result (never throws), every error names a field, and whatever it accepts
// is safe to use as a manifest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_MANIFEST_PROBLEMS, validateManifest } from './validate-manifest.ts';
import { settingsDefaults, validateConfig } from './settings.ts';

const slug = fc.stringMatching(/^[a-z][a-z0-9-]{1,20}$/);
const semver = fc
  .tuple(fc.nat(20), fc.nat(20), fc.nat(20))
  .map(([major, minor, patch]) => `${major}.${minor}.${patch}`);
const setting = fc.oneof(
  fc.record({
    key: fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/),
    type: fc.constantFrom('string', 'text'),
    label: fc.string({ minLength: 1, maxLength: 10 }),
    secret: fc.boolean(),
  }),
  fc.record(
    {
      key: fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/),
      type: fc.constant('number'),
      label: fc.string({ minLength: 1, maxLength: 10 }),
      default: fc.integer({ min: -5, max: 5 }),
      min: fc.integer({ min: -10, max: 0 }),
      max: fc.integer({ min: 0, max: 10 }),
    },
    { requiredKeys: ['key', 'type', 'label'] },
  ),
);
const manifestish = fc.record(
  {
    name: fc.oneof(slug, fc.string()),
    publisher: fc.oneof(slug, fc.string()),
    version: fc.oneof(semver, fc.string()),
    runtime: fc.constantFrom('wasm-js@1', 'node', 1),
    capabilities: fc.array(fc.constantFrom('cap:secrets.get', 'cap:http.fetch', 'cap:nope', 7), { maxLength: 3 }),
    api: fc.oneof(
      fc.record({
        endpoints: fc.array(
          fc.record(
            {
              method: fc.constantFrom('GET', 'POST', 'TRACE'),
              path: fc.oneof(fc.stringMatching(/^\/[a-z:]{0,8}$/), fc.string()),
              proxy: fc.oneof(fc.boolean(), fc.string()),
            },
            { requiredKeys: ['method', 'path'] },
          ),
          { maxLength: 4 },
        ),
      }),
      fc.anything(),
    ),
    allowedHosts: fc.array(fc.oneof(fc.domain(), fc.string()), { maxLength: 3 }),
    settings: fc.oneof(fc.array(setting, { maxLength: 4 }), fc.anything()),
  },
  { requiredKeys: [] },
);

test('validateManifest never throws and every error names a path and a message', () => {
  fc.assert(
    fc.property(fc.oneof(manifestish, fc.anything(), fc.jsonValue()), (value) => {
      const result = validateManifest(value);
      if (result.ok) {
        // Accepted manifests are usable: defaults validate against their own settings.
        assert.equal(typeof result.manifest.name, 'string');
        assert.deepEqual(
          validateConfig(result.manifest, settingsDefaults(result.manifest)).filter(
            (e) => !e.message.includes('is required'),
          ),
          [],
        );
      } else {
        assert.ok(result.errors.length > 0);
        // Bounded whatever the input: the first problems and a count of the rest.
        assert.ok(result.errors.length <= MAX_MANIFEST_PROBLEMS + 1);
        assert.ok(JSON.stringify(result.errors).length <= 8 * 1024);
        for (const error of result.errors) {
          assert.equal(typeof error.path, 'string');
          assert.ok(error.message.length > 0);
        }
      }
    }),
    { numRuns: 2_000 },
  );
});
