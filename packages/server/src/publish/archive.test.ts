import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { BundleArchiveError, DEFAULT_BUNDLE_LIMITS, checkBundleEntry } from '@alga-psa/protocol';
import { archiveBytes, referenceBundle, tarBytes, zstdArchiveBytes, type TarEntrySpec } from '../testing/archives.ts';
import { readBundleArchive } from './archive.ts';

const base: TarEntrySpec[] = [
  { path: 'manifest.json', body: '{}' },
  { path: 'component.wasm', body: 'wasm' },
  { path: 'metadata.json', body: '{}' },
];

async function refusal(archive: Uint8Array, limits = DEFAULT_BUNDLE_LIMITS): Promise<BundleArchiveError> {
  try {
    await readBundleArchive(archive, limits);
  } catch (error) {
    assert.ok(error instanceof BundleArchiveError, `expected a BundleArchiveError, got ${String(error)}`);
    return error;
  }
  assert.fail('the archive was accepted');
}

test('a well-formed archive yields its files, wit and ui entries', async () => {
  const contents = await readBundleArchive(
    archiveBytes([
      { path: './', type: 'Directory' },
      ...base,
      { path: 'wit/', type: 'Directory' },
      { path: 'wit/world.wit', body: 'package a:b;' },
      { path: 'ui/assets/', type: 'Directory' },
      { path: 'ui/index.html', body: '<p>hi</p>' },
      { path: './ui/assets/app.js', body: 'x()' },
    ]),
  );
  assert.equal(contents.manifestText, '{}');
  assert.equal(contents.component.toString(), 'wasm');
  assert.deepEqual([...contents.wit.keys()], ['wit/world.wit']);
  assert.deepEqual([...contents.ui.keys()].sort(), ['ui/assets/app.js', 'ui/index.html']);
});

test('escaping paths, links, devices and stray files are refused, each with its reason', async () => {
  const cases: [TarEntrySpec, string, RegExp][] = [
    [{ path: '../evil', body: 'x' }, 'escaping-path', /\.\./],
    [{ path: 'ui/../../evil', body: 'x' }, 'escaping-path', /\.\./],
    [{ path: '/etc/passwd', body: 'x' }, 'escaping-path', /absolute/],
    [{ path: 'C:/evil', body: 'x' }, 'escaping-path', /absolute/],
    [{ path: 'ui\\..\\evil', body: 'x' }, 'escaping-path', /backslash/],
    [{ path: 'ui/link', type: 'SymbolicLink', linkpath: '/etc/passwd' }, 'link', /link/],
    [{ path: 'ui/hard', type: 'Link', linkpath: 'manifest.json' }, 'link', /link/],
    [{ path: 'ui/dev', type: 'CharacterDevice' }, 'device', /device/],
    [{ path: 'ui/fifo', type: 'FIFO' }, 'device', /FIFO/],
    [{ path: 'notes.txt', body: 'x' }, 'unexpected-entry', /not part of the bundle format/],
    [{ path: 'ui/.env', body: 'x' }, 'unexpected-entry', /hidden/],
    [{ path: 'manifest.json', body: '{}' }, 'duplicate-entry', /twice/],
  ];
  for (const [entry, reason, message] of cases) {
    const error = await refusal(archiveBytes([...base, entry]));
    assert.equal(error.reason, reason, entry.path);
    assert.equal(error.code, 'ALGA_INVALID_ARCHIVE');
    assert.match(error.message, message);
  }
});

test('a missing required file is named', async () => {
  const error = await refusal(archiveBytes([base[0]!, base[2]!]));
  assert.equal(error.reason, 'missing-file');
  assert.match(error.message, /component\.wasm/);
});

test('decompression bombs are refused by absolute size and by ratio', async () => {
  const bomb = gzipSync(tarBytes([...base, { path: 'ui/zeros.bin', body: Buffer.alloc(3 * 1024 * 1024) }]));
  const byRatio = await refusal(bomb);
  assert.equal(byRatio.reason, 'bomb');
  assert.equal(byRatio.code, 'ALGA_PAYLOAD_TOO_LARGE');
  const bySize = await refusal(bomb, { ...DEFAULT_BUNDLE_LIMITS, maxUncompressedBytes: 1024 * 1024, maxRatio: 1e9 });
  assert.equal(bySize.reason, 'bomb');
  assert.match(bySize.message, /expands to more than 1 MiB/);
});

test('too many entries, oversized files and oversized archives are refused', async () => {
  const many = archiveBytes([...base, ...Array.from({ length: 20 }, (_, i) => ({ path: `ui/f${i}.txt`, body: 'x' }))]);
  assert.equal((await refusal(many, { ...DEFAULT_BUNDLE_LIMITS, maxEntries: 10 })).reason, 'too-many-entries');
  const big = archiveBytes([...base, { path: 'ui/big.bin', body: Buffer.alloc(2048, 1) }]);
  assert.equal((await refusal(big, { ...DEFAULT_BUNDLE_LIMITS, maxFileBytes: 1024 })).reason, 'too-large');
  assert.equal((await refusal(big, { ...DEFAULT_BUNDLE_LIMITS, maxArchiveBytes: 10 })).reason, 'too-large');
});

test('non-gzip, truncated, double-compressed and non-tar bodies are refused', async () => {
  assert.equal((await refusal(Buffer.from('PK\u0003\u0004 a zip file'))).reason, 'not-gzip');
  const good = archiveBytes(base);
  assert.equal((await refusal(good.subarray(0, good.length - 20))).reason, 'not-gzip');
  assert.equal((await refusal(gzipSync(good))).reason, 'bad-tar');
  assert.equal((await refusal(gzipSync(Buffer.from('just text, not a tar')))).reason, 'bad-tar');
});

// Property tests: whatever bytes or entries arrive, the parser answers with
// contents or a BundleArchiveError, and never accepts a path that could escape.
const segment = fc.oneof(
  fc.constantFrom('..', '.', '', 'ui', 'wit', 'manifest.json', 'component.wasm', 'a.wit', '~', '%2e%2e'),
  fc.string({ maxLength: 6 }),
);
const entryPath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('\\')),
);
const entryType = fc.constantFrom('File', 'Directory', 'SymbolicLink', 'Link', 'CharacterDevice', 'FIFO');

function escapes(path: string): boolean {
  return path.startsWith('/') || path.includes('\\') || path.split('/').includes('..') || /^[A-Za-z]:/.test(path);
}

test('property: checkBundleEntry never accepts an escaping path, a link or a device', () => {
  fc.assert(
    fc.property(entryPath, entryType, (path, type) => {
      const check = checkBundleEntry(path, type);
      if (check.ok) {
        assert.ok(!escapes(path), `accepted ${JSON.stringify(path)}`);
        assert.ok(type === 'File' || type === 'Directory');
        if (check.path !== '') assert.ok(!check.path.split('/').some((s) => s === '..' || s === '.' || s === ''));
      }
    }),
    { numRuns: 5_000 },
  );
});

test('property: random archives yield contents or a BundleArchiveError, never an escaping path', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ path: entryPath, type: entryType, body: fc.uint8Array({ maxLength: 64 }) }), {
        maxLength: 6,
      }),
      fc.boolean(),
      async (entries, withBase) => {
        const specs = (withBase ? [...base, ...entries] : entries).filter(
          (e) => e.path.length > 0 && e.path.length < 99,
        );
        let archive: Buffer;
        try {
          archive = archiveBytes(specs as TarEntrySpec[]);
        } catch {
          return; // tar's own Header refuses to encode some paths: nothing to parse
        }
        try {
          const contents = await readBundleArchive(archive);
          for (const path of [...contents.ui.keys(), ...contents.wit.keys()]) assert.ok(!escapes(path), path);
        } catch (error) {
          assert.ok(error instanceof BundleArchiveError, String(error));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: arbitrary bytes are refused with a BundleArchiveError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (bytes, gzip) => {
      try {
        await readBundleArchive(gzip ? gzipSync(bytes) : bytes);
        assert.fail('random bytes were accepted');
      } catch (error) {
        assert.ok(error instanceof BundleArchiveError, String(error));
      }
    }),
    { numRuns: 300 },
  );
});

test('a reference bundle.tar.zst is read: component from dist/main.wasm, ui/, extras kept out', async () => {
  const contents = await readBundleArchive(
    referenceBundle({ name: 'x' }, Buffer.from('wasm'), [
      { path: 'ui/index.html', body: '<p>hi</p>' },
      { path: 'precompiled/x86_64-linux-gnu.cwasm', body: 'native' },
      { path: 'SIGNATURE', body: '# SIGNATURE PLACEHOLDER' },
      { path: 'dist/component.json', body: '{}' },
    ]),
  );
  assert.equal(contents.layout, 'reference');
  assert.equal(contents.metadataText, undefined);
  assert.equal(contents.component.toString(), 'wasm');
  assert.deepEqual([...contents.ui.keys()], ['ui/index.html']);
  const nested = await readBundleArchive(referenceBundle({ name: 'x' }, Buffer.from('w2'), [], 'my-ext/'));
  assert.equal(nested.component.toString(), 'w2');
  const onlyArtifacts = await readBundleArchive(
    zstdArchiveBytes([
      { path: 'manifest.json', body: '{}' },
      { path: 'artifacts/component/component.wasm', body: 'art' },
    ]),
  );
  assert.equal(onlyArtifacts.component.toString(), 'art');
});

test('reference bundles keep every safety rule', async () => {
  const manifest = { path: 'manifest.json', body: '{}' };
  const wasm = { path: 'dist/main.wasm', body: 'w' };
  const cases: [TarEntrySpec[], string][] = [
    [[manifest, wasm, { path: '../evil', body: 'x' }], 'escaping-path'],
    [[manifest, wasm, { path: '/etc/passwd', body: 'x' }], 'escaping-path'],
    [[manifest, wasm, { path: 'ui/link', type: 'SymbolicLink', linkpath: '/etc/passwd' }], 'link'],
    [[manifest, { path: 'dist/other.wasm', body: 'w' }], 'missing-file'],
    [[wasm], 'missing-file'],
    [[manifest, wasm, { path: 'artifacts/component/component.wasm', body: 'different' }], 'unexpected-entry'],
  ];
  for (const [entries, reason] of cases) {
    assert.equal((await refusal(zstdArchiveBytes(entries))).reason, reason, JSON.stringify(entries.map((e) => e.path)));
  }
  const bomb = zstdCompressSync(Buffer.concat([tarBytes([manifest, wasm]), Buffer.alloc(4 * 1024 * 1024)]));
  assert.equal((await refusal(bomb, { ...DEFAULT_BUNDLE_LIMITS, maxUncompressedBytes: 1024 * 1024 })).reason, 'bomb');
  assert.equal((await refusal(zstdCompressSync(zstdArchiveBytes([manifest, wasm])))).reason, 'bad-tar');
});

test('reference bundles leave out hidden entries and files outside the layout, as the reference host does, and list them', async () => {
  const contents = await readBundleArchive(
    zstdArchiveBytes([
      { path: 'a/manifest.json', body: '{}' },
      { path: 'a/dist/main.wasm', body: 'w' },
      { path: 'a/ui/index.html', body: '<p>' },
      { path: 'a/ui/assets/My Logo.png', body: 'png' },
      { path: 'a/ui/.DS_Store', body: 'x' },
      { path: 'a/ui/img/.gitkeep', body: '' },
      { path: 'a/README.md', body: 'x' },
      { path: 'a/node_modules/x.js', body: 'x' },
      { path: 'b/x', body: 'x' },
    ]),
  );
  assert.deepEqual([...contents.ui.keys()].sort(), ['ui/assets/My Logo.png', 'ui/index.html']);
  assert.deepEqual(contents.skipped.sort(), [
    'a/README.md',
    'a/node_modules/x.js',
    'a/ui/.DS_Store',
    'a/ui/img/.gitkeep',
    'b/x',
  ]);
});
