import assert from 'node:assert/strict';
import { chmod, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { credentialsFile, resolveCredentials, writeCredentials } from './credentials.ts';
import { parseAssignment } from '../commands/config-set.ts';

const saved = { ...process.env };
beforeEach(async () => {
  process.env['XDG_CONFIG_HOME'] = await mkdtemp(path.join(tmpdir(), 'alga-cred-'));
  delete process.env['ALGA_SERVER_URL'];
  delete process.env['ALGA_API_KEY'];
});
afterEach(() => {
  process.env = { ...saved };
});

test('the login file is written 0600 and used when no env is set; env wins over it', async () => {
  await writeCredentials({ serverUrl: 'http://a', apiKey: 'alga_sk_file' });
  assert.equal((await stat(credentialsFile())).mode & 0o777, 0o600);
  assert.deepEqual(await resolveCredentials(), { serverUrl: 'http://a', apiKey: 'alga_sk_file' });
  process.env['ALGA_SERVER_URL'] = 'http://b';
  process.env['ALGA_API_KEY'] = 'alga_sk_env';
  assert.deepEqual(await resolveCredentials(), { serverUrl: 'http://b', apiKey: 'alga_sk_env' });
  assert.equal((await resolveCredentials({ server: 'http://c' })).serverUrl, 'http://c');
});

test('a login file others can read is refused; no credentials says how to log in', async () => {
  await assert.rejects(resolveCredentials(), /run: alga login/);
  await writeCredentials({ serverUrl: 'http://a', apiKey: 'k' });
  await chmod(credentialsFile(), 0o644);
  await assert.rejects(resolveCredentials(), /readable by other users; run: chmod 600/);
});

test('config assignments parse JSON values and keep plain strings', () => {
  assert.deepEqual(parseAssignment('greeting=Hello world'), ['greeting', 'Hello world']);
  assert.deepEqual(parseAssignment('retries=3'), ['retries', 3]);
  assert.deepEqual(parseAssignment('tags=["a","b"]'), ['tags', ['a', 'b']]);
  assert.deepEqual(parseAssignment('eq=a=b'), ['eq', 'a=b']);
  assert.throws(() => parseAssignment('novalue'), /not key=value/);
});
