import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { Command } from 'commander';
import { sampleManifest } from '@alga-psa/protocol/testing';
import { commands } from '../commands/index.ts';
import { resolveInstallTarget } from './install-target.ts';

const saved = { ...process.env };
beforeEach(async () => {
  process.env['XDG_CONFIG_HOME'] = await mkdtemp(path.join(tmpdir(), 'alga-target-'));
  process.env['ALGA_SERVER_URL'] = 'http://127.0.0.1:9';
  process.env['ALGA_API_KEY'] = 'alga_sk_test';
});
afterEach(() => {
  process.env = { ...saved };
});

function program(): Command {
  const root = new Command('alga');
  for (const register of commands) register(root);
  return root;
}

test('every config and secrets verb takes --ext, -C/--dir and --server, under one help line per noun', () => {
  const root = program();
  const verbs: Record<string, string[]> = {
    config: ['get', 'set'],
    secrets: ['set', 'list', 'delete'],
  };
  for (const [noun, names] of Object.entries(verbs)) {
    const group = root.commands.find((c) => c.name() === noun)!;
    assert.ok(group.description().length > 10, noun);
    assert.deepEqual(group.commands.map((c) => c.name()).sort(), [...names].sort());
    for (const verb of group.commands) {
      const flags = verb.options.map((o) => o.flags);
      assert.deepEqual(flags.slice(0, 3), ['--ext <extensionId>', '-C, --dir <dir>', '--server <url>'], verb.name());
    }
  }
});

test('the install is the one --ext names, else the one the manifest in --dir names; the client uses the credentials', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-ext-'));
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(sampleManifest()));
  const fromDir = await resolveInstallTarget({ dir });
  assert.equal(fromDir.extensionId, 'hello-ext');
  assert.equal(fromDir.client.serverUrl, 'http://127.0.0.1:9');
  // --ext needs no manifest at all.
  const named = await resolveInstallTarget({
    ext: 'other-ext',
    dir: path.join(dir, 'missing'),
    server: 'http://127.0.0.1:8',
  });
  assert.equal(named.extensionId, 'other-ext');
  assert.equal(named.client.serverUrl, 'http://127.0.0.1:8');
});
