import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readLocalConfig, readLocalSecrets, writeLocalSecrets } from './local-files.ts';
import { describeRunnerLine } from '../commands/dev.ts';

async function project(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-local-'));
  await mkdir(path.join(dir, '.alga'));
  return dir;
}

test('a secrets file readable by others is refused with the chmod to run, without echoing values', async () => {
  const dir = await project();
  await writeFile(path.join(dir, '.alga/secrets.local.json'), '{"api_token":"s3cr3t"}');
  await chmod(path.join(dir, '.alga/secrets.local.json'), 0o640);
  await assert.rejects(
    readLocalSecrets(dir, () => {}),
    (error: Error) => {
      assert.match(error.message, /readable by other users; run: chmod 600 \.alga\/secrets\.local\.json/);
      assert.ok(!error.message.includes('s3cr3t'));
      return true;
    },
  );
});

test('a private secrets file is read; non-string values and bad JSON are refused without echoing', async () => {
  const dir = await project();
  await writeLocalSecrets(dir, { api_token: 'abc' });
  assert.equal((await stat(path.join(dir, '.alga/secrets.local.json'))).mode & 0o777, 0o600);
  assert.deepEqual(await readLocalSecrets(dir, () => {}), { api_token: 'abc' });
  await writeLocalSecrets(dir, { n: 1 } as never);
  await assert.rejects(
    readLocalSecrets(dir, () => {}),
    /value of "n" must be a string/,
  );
  await writeFile(path.join(dir, '.alga/secrets.local.json'), '{"api_token": "oops', { mode: 0o600 });
  await assert.rejects(
    readLocalSecrets(dir, () => {}),
    (e: Error) => !e.message.includes('oops'),
  );
});

test('no secrets or config file means none', async () => {
  const dir = await project();
  assert.deepEqual(await readLocalSecrets(dir, () => {}), {});
  assert.deepEqual(await readLocalConfig(dir), {});
  await writeFile(path.join(dir, '.alga/config.local.json'), '[1]');
  await assert.rejects(readLocalConfig(dir), /must be a JSON object/);
});

test("the runner's egress refusal becomes the manifest line to add; guest lines are shown", () => {
  assert.equal(
    describeRunnerLine({
      level: 40,
      provider: 'http',
      add: 'api.other.com',
      origin: 'https://api.other.com',
      msg: 'x',
    }),
    '! outbound call to https://api.other.com refused: add "api.other.com" to "allowedHosts" in manifest.json',
  );
  assert.equal(describeRunnerLine({ level: 30, source: 'guest', msg: 'hi' }), '[info] hi');
  assert.equal(describeRunnerLine({ level: 30, msg: 'request completed' }), undefined);
});

test("a failed request's cause is shown: the trap's message and frame, or the deadline", () => {
  assert.equal(
    describeRunnerLine({
      level: 40,
      msg: 'extension execution failed',
      phase: 'call',
      detail: 'RuntimeError: unreachable\n    at random_get (wasm-function[87])\n    at wasm-function[5095]',
    }),
    '! extension execution failed: RuntimeError: unreachable at random_get (wasm-function[87]) (and 1 more frame)',
  );
  assert.equal(
    describeRunnerLine({ level: 40, msg: 'extension exceeded its deadline; worker recycled', timeout_ms: 200 }),
    '! extension exceeded its deadline; worker recycled',
  );
});
