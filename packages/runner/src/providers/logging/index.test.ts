import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { createDispatcher } from '../../host-calls/index.ts';
import { testProviders } from '../../testing/providers.ts';
import { loggingImpl, MAX_GUEST_LOG_BYTES, MAX_GUEST_LOG_LINES } from './index.ts';

function guestLines(logs: Array<Record<string, unknown>>) {
  return logs.filter((line) => line.source === 'guest');
}

describe('logging provider', () => {
  const provider = loggingImpl();
  const call = (
    fn: 'logInfo' | 'logWarn' | 'logError',
    scope: ReturnType<typeof testScope>['scope'],
    message: string,
  ) => provider.functions[fn](scope, message);

  it('writes guest lines at their level with the request ids and source guest', () => {
    const t = testScope({ providers: ['cap:log.emit'] });
    call('logInfo', t.scope, 'i');
    call('logWarn', t.scope, 'w');
    call('logError', t.scope, 'e');
    const lines = guestLines(t.logs);
    assert.deepEqual(
      lines.map((line) => [line.level, line.msg]),
      [
        [30, 'i'],
        [40, 'w'],
        [50, 'e'],
      ],
    );
    for (const key of ['request_id', 'tenant_id', 'extension_id', 'install_id']) assert.ok(lines[0]![key], key);
  });

  it('masks every secret decrypted in the execution: plain, base64, base64url and URL-encoded', () => {
    const t = testScope({ providers: ['cap:log.emit'] });
    const secret = 'a+b/c?d e>>>';
    t.scope.masked.add(secret);
    const b64 = Buffer.from(secret).toString('base64');
    const message = [
      secret,
      b64,
      b64.replace(/=+$/, ''),
      Buffer.from(secret).toString('base64url'),
      encodeURIComponent(secret),
    ].join(' | ');
    call('logInfo', t.scope, message);
    assert.equal(guestLines(t.logs)[0]!.msg, Array(5).fill('[REDACTED]').join(' | '));
  });

  it('keeps the first MAX_GUEST_LOG_LINES lines of an execution and says once, at its end, how many more were dropped', () => {
    const t = testScope({ providers: ['cap:log.emit'] });
    for (let i = 0; i < MAX_GUEST_LOG_LINES + 5; i++) call('logInfo', t.scope, `line ${i}`);
    assert.equal(guestLines(t.logs).length, MAX_GUEST_LOG_LINES);
    assert.equal(guestLines(t.logs).at(-1)!.msg, `line ${MAX_GUEST_LOG_LINES - 1}`);
    t.close();
    const last = guestLines(t.logs).at(-1)!;
    assert.equal(guestLines(t.logs).length, MAX_GUEST_LOG_LINES + 1);
    assert.equal(last.level, 40);
    assert.equal(last.dropped, 5);
    assert.match(last.msg as string, /5 more log line\(s\) of this request were dropped/);
    // Another execution starts from zero.
    const next = testScope({ providers: ['cap:log.emit'] });
    call('logInfo', next.scope, 'fresh');
    assert.deepEqual(
      guestLines(next.logs).map((line) => line.msg),
      ['fresh'],
    );
  });

  it('caps a message at 8 KiB and marks it truncated', () => {
    const t = testScope({ providers: ['cap:log.emit'] });
    call('logInfo', t.scope, 'x'.repeat(MAX_GUEST_LOG_BYTES + 100));
    const line = guestLines(t.logs)[0]!;
    assert.equal((line.msg as string).length, MAX_GUEST_LOG_BYTES);
    assert.equal(line.truncated, true);
  });

  it('drops lines without cap:log.emit and reports the count once when the execution ends', async () => {
    const dispatch = createDispatcher(testProviders());
    const t = testScope({ providers: ['cap:context.read'] });
    assert.deepEqual(await dispatch(t.scope, 'logging', 'logInfo', ['one']), { kind: 'ok', value: undefined });
    await dispatch(t.scope, 'logging', 'logError', ['two']);
    assert.equal(guestLines(t.logs).length, 0);
    t.close();
    const report = t.logs.filter((line) => line.provider === 'logging');
    assert.equal(report.length, 1);
    assert.equal(report[0]!.dropped, 2);
  });
});
