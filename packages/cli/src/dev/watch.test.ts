import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isEditorScratch, watchTree, type TreeWatcher } from './watch.ts';

/**
 * Every way an editor saves must be seen, and keep being seen on the next
 * save: Node's `recursive: true` watcher lost a file after the first rename-over.
 */
describe('watchTree', () => {
  let root: string;
  let watcher: TreeWatcher;
  let seen: string[] = [];
  let wake: (() => void) | undefined;

  /** Resolves once `file` has been reported (the test runner's timeout is the backstop). */
  async function reported(file: string): Promise<void> {
    while (!seen.includes(file)) await new Promise<void>((resolve) => (wake = resolve));
  }

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'alga-watch-'));
    await mkdir(path.join(root, 'src/lib'), { recursive: true });
    await writeFile(path.join(root, 'src/index.ts'), 'export {};\n');
    watcher = await watchTree(path.join(root, 'src'), {
      recursive: true,
      onChange: (file) => {
        seen.push(path.relative(root, file));
        wake?.();
      },
    });
  });

  after(async () => {
    watcher.close();
    await rm(root, { recursive: true, force: true });
  });

  const styles: [string, (file: string, text: string) => Promise<void>][] = [
    ['in place', (file, text) => writeFile(file, text)],
    [
      'rename-over (vim backupcopy=no, emacs)',
      async (file, text) => {
        await writeFile(`${file}~`, text);
        await rename(`${file}~`, file);
      },
    ],
    [
      'atomic replace (write-file-atomic, VS Code)',
      async (file, text) => {
        const temp = `${file}.tmp.${process.pid}.1`;
        await writeFile(temp, text);
        await rename(temp, file);
      },
    ],
  ];

  // Twice round: each style must still be seen after every other one has replaced the file.
  for (const round of [1, 2]) {
    for (const [style, save] of styles) {
      test(`${style}, round ${round}: the save is reported, the scratch file is not`, async () => {
        seen = [];
        await save(path.join(root, 'src/index.ts'), `export const v = '${style} ${round}';\n`);
        await reported('src/index.ts');
        assert.deepEqual(
          seen.filter((f) => f !== 'src/index.ts'),
          [],
        );
      });
    }
  }

  test('a file in a subfolder, and one in a folder created after the watch began', async () => {
    seen = [];
    await writeFile(path.join(root, 'src/lib/util.ts'), 'export {};\n');
    await reported('src/lib/util.ts');
    await mkdir(path.join(root, 'src/new'));
    await reported('src/new');
    await writeFile(path.join(root, 'src/new/late.ts'), 'export {};\n');
    await reported('src/new/late.ts');
  });

  test('a non-recursive watch with a filter reports only the named file', async () => {
    const hits: string[] = [];
    let ping: (() => void) | undefined;
    const top = await watchTree(root, {
      recursive: false,
      filter: (name) => name === 'manifest.json',
      onChange: (file) => {
        hits.push(path.basename(file));
        ping?.();
      },
    });
    try {
      await writeFile(path.join(root, 'other.json'), '{}');
      await writeFile(path.join(root, 'manifest.json.tmp'), '{}');
      await rename(path.join(root, 'manifest.json.tmp'), path.join(root, 'manifest.json'));
      while (!hits.includes('manifest.json')) await new Promise<void>((resolve) => (ping = resolve));
      assert.deepEqual(hits, ['manifest.json']);
    } finally {
      top.close();
    }
  });

  test('editor scratch names', () => {
    for (const name of ['index.ts~', '.index.ts.swp', '.#index.ts', '4913', 'index.ts.tmp.123.4', 'a.ts___jb_tmp___']) {
      assert.equal(isEditorScratch(name), true, name);
    }
    for (const name of ['index.ts', 'tmp.ts', 'manifest.json']) assert.equal(isEditorScratch(name), false, name);
  });
});
