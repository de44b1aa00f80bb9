import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignInThrottle } from './sign-in-throttle.ts';

test('a key is refused once its failures reach the budget, until its window ends; others are not', () => {
  let now = 1_000_000;
  const throttle = new SignInThrottle({ maxFailures: 3, windowMs: 60_000 }, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(throttle.retryAfter('a'), 0);
    throttle.failed('a');
  }
  assert.equal(throttle.retryAfter('a'), 60);
  assert.equal(throttle.retryAfter('b'), 0);
  now += 59_500;
  assert.equal(throttle.retryAfter('a'), 1);
  now += 500;
  assert.equal(throttle.retryAfter('a'), 0, 'a new window after the old one ends');
  throttle.failed('a');
  assert.equal(throttle.retryAfter('a'), 0);
});

test('the map keeps at most maxKeys windows, forgetting the oldest first', () => {
  const throttle = new SignInThrottle({ maxFailures: 1, maxKeys: 2 });
  throttle.failed('old');
  throttle.failed('mid');
  throttle.failed('new');
  assert.equal(throttle.retryAfter('old'), 0);
  assert.ok(throttle.retryAfter('mid') > 0 && throttle.retryAfter('new') > 0);
});
