import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlgaError, defineError, ERRORS } from './errors.ts';

describe('error kinds', () => {
  it('fill their template from the throw site arguments and take status from the code', () => {
    const notInstalled = defineError('ALGA_NOT_FOUND', 'Extension "{extensionId}" is not installed here.');
    const error = notInstalled({ extensionId: 'hello' });
    assert.ok(error instanceof AlgaError);
    assert.equal(error.code, 'ALGA_NOT_FOUND');
    assert.equal(error.status, 404);
    assert.equal(error.message, 'Extension "hello" is not installed here.');
    assert.equal(notInstalled.template, 'Extension "{extensionId}" is not installed here.');
  });

  it('without placeholders take only options, which carry details and cause', () => {
    const busy = defineError('ALGA_RUNNER_UNAVAILABLE', 'All workers are busy; retry shortly.');
    const cause = new Error('queue full');
    const error = busy({ details: { queued: 3 }, cause });
    assert.equal(error.message, 'All workers are busy; retry shortly.');
    assert.deepEqual(error.details, { queued: 3 });
    assert.equal(error.cause, cause);
    assert.deepEqual(error.toBody('r-1'), {
      error: {
        code: 'ALGA_RUNNER_UNAVAILABLE',
        message: 'All workers are busy; retry shortly.',
        requestId: 'r-1',
        details: { queued: 3 },
      },
    });
  });

  it('leave a placeholder the caller did not fill visible rather than inventing a value', () => {
    const kind = defineError('ALGA_BAD_REQUEST', 'Bad {what} at {where}.');
    assert.equal(kind({ what: 'x' } as never).message, 'Bad x at {where}.');
  });
});

describe('AlgaError.fromBody', () => {
  it('reads back what toBody wrote', () => {
    const body = JSON.parse(JSON.stringify(new AlgaError('ALGA_TIMEOUT', 'slow', { details: { ms: 5 } }).toBody()));
    const error = AlgaError.fromBody(body);
    assert.equal(error?.code, 'ALGA_TIMEOUT');
    assert.equal(error?.message, 'slow');
    assert.deepEqual(error?.details, { ms: 5 });
  });

  it('answers undefined for bodies that are not ours, and the default message when one has none', () => {
    assert.equal(AlgaError.fromBody({ error: { code: 'NOPE' } }), undefined);
    assert.equal(AlgaError.fromBody('text'), undefined);
    assert.equal(AlgaError.fromBody(null), undefined);
    assert.equal(AlgaError.fromBody({ error: { code: 'ALGA_INTERNAL' } })?.message, ERRORS.ALGA_INTERNAL.message);
  });
});

describe('the registry', () => {
  it('gives every code a 4xx or 5xx status and a message that ends a sentence', () => {
    for (const [code, { status, message }] of Object.entries(ERRORS)) {
      assert.ok(status >= 400 && status < 600, code);
      assert.match(message, /[.`]$/, code);
    }
  });
});
