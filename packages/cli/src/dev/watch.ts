/**
 * Watches a folder tree for `alga dev` by watching every directory (never a
 * file, never `recursive: true`): an editor that saves by renaming a new file
 * over the old one replaces the inode, and Node's recursive watcher on Linux
 * stops reporting a file once that happens, so the next saves were missed. A
 * directory's inotify watch sees writes in place, rename-over and atomic
 * replace alike, and survives all of them.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Scratch files editors write next to the real one (vim, emacs, JetBrains, write-file-atomic). */
export function isEditorScratch(name: string): boolean {
  return (
    name.endsWith('~') ||
    /\.sw[a-p]$/.test(name) ||
    name.startsWith('.#') ||
    name === '4913' ||
    /\.tmp(\.\d+)*$/.test(name) ||
    /___jb_(tmp|old)___$/.test(name)
  );
}

export interface TreeWatcher {
  close(): void;
}

const SKIP_DIRS = new Set(['node_modules', '.git']);

/**
 * Calls `onChange(file)` (the absolute path) for every change under `root`;
 * with `recursive: false` only `root` itself is watched. `filter` sees the
 * base name. New subdirectories are watched as they appear. A `root` that does
 * not exist yet is not watched.
 */
export async function watchTree(
  root: string,
  options: { recursive: boolean; filter?: (name: string) => boolean; onChange: (file: string) => void },
): Promise<TreeWatcher> {
  const watchers = new Map<string, FSWatcher>();
  const filter = options.filter ?? (() => true);
  let closed = false;

  const add = async (dir: string): Promise<void> => {
    if (closed || watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        if (name === null) return;
        const file = path.join(dir, String(name));
        if (options.recursive && !watchers.has(file)) {
          // A new folder (or one renamed in): watch it too, and report what it already holds.
          void stat(file).then(
            (info) => {
              if (info.isDirectory() && !SKIP_DIRS.has(String(name))) void add(file).then(() => options.onChange(file));
            },
            () => {},
          );
        }
        if (!isEditorScratch(String(name)) && filter(String(name))) options.onChange(file);
      });
    } catch {
      return; // gone already (deleted between listing and watching)
    }
    watcher.on('error', () => {
      // The folder itself went away: stop watching it; its parent reports the removal.
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
    if (!options.recursive) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) await add(path.join(dir, entry.name));
    }
  };

  const exists = await stat(root).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (exists) await add(root);
  return {
    close() {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
