/**
 * The one guest component the engine tests run; behaviours are picked by
 * path so a single build (~7 s, cached) covers them all. Built for the world
 * `runner-with-warm-up` (FIXTURE_WORLD): it exports `warm-up` as well.
 */
export const FIXTURE_WORLD = 'runner-with-warm-up';

export const FIXTURE_GUEST = String.raw`
import { getContext } from 'alga:extension/context@0.3.0';
import { get as getConfig, getAll as getAllConfig } from 'alga:extension/config@0.3.0';
import { get as getSecret, listKeys } from 'alga:extension/secrets@0.3.0';
import { logInfo } from 'alga:extension/logging@0.3.0';
import { fetch } from 'alga:extension/http@0.3.0';
import { get as storageGet } from 'alga:extension/storage@0.3.0';
import { callRoute } from 'alga:extension/ui-proxy@0.3.0';
import { getUser } from 'alga:extension/user@0.3.0';

// Module-level state: a fresh instance per request must always see 1.
let counter = 0;
// Bumped only by timers /leave-timers arms and never waits for.
let leftTimersFired = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function json(status, value) {
  return {
    status,
    headers: [{ name: 'Content-Type', value: 'application/json' }, { name: 'X-Multi', value: 'a' }, { name: 'x-multi', value: 'b' }],
    body: new TextEncoder().encode(JSON.stringify(value)),
  };
}

function attempt(fn) {
  try { return { ok: fn() }; } catch (e) { return { err: e.payload }; }
}

// Warm-up (wit/README.md): armed by warmUp(), answered by the next handler
// call without touching the module state above. What the host answered is
// kept so /warmed-up can show it (an SDK-built guest keeps nothing).
let warmUpArmed = false;
let warmedUp = null;
export function warmUp() {
  warmUpArmed = true;
}

export async function handler(req) {
  if (warmUpArmed) {
    warmUpArmed = false;
    warmedUp = {
      request: req.context,
      context: getContext(),
      config: getAllConfig(),
      secret: attempt(() => getSecret('api_token')),
      keys: listKeys(),
    };
    logInfo('warm-up line');
    return { status: 204, headers: [{ name: 'alga-warm-up', value: 'done' }], body: undefined };
  }
  counter += 1;
  const [path, query = ''] = req.http.url.split('?');
  const params = Object.fromEntries(query.split('&').filter(Boolean).map((kv) => kv.split('=').map(decodeURIComponent)));
  switch (path) {
    case '/echo':
      return json(200, {
        counter,
        context: getContext(),
        method: req.http.method,
        url: req.http.url,
        headers: req.http.headers,
        body: req.http.body ? new TextDecoder().decode(req.http.body) : null,
      });
    case '/loop':
      while (true) {}
    case '/log-then-loop':
      for (let i = 1; i <= 3; i++) logInfo('step-' + i);
      while (true) {}
    case '/throw':
      throw new Error('guest exploded with internal detail');
    case '/secret':
      return json(200, attempt(() => getSecret(params.key)));
    case '/list-keys':
      return json(200, { keys: listKeys() });
    case '/log-secret': {
      const value = getSecret(params.key);
      const b64 = btoa(value);
      logInfo('plain=' + value + ' b64=' + b64 + ' b64url=' + b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') + ' url=' + encodeURIComponent(value));
      return json(200, { logged: true });
    }
    case '/log':
      logInfo(params.message ?? 'hello');
      return json(200, { logged: true });
    case '/config':
      return json(200, { one: attempt(() => getConfig(params.key)), all: attempt(() => getAllConfig()) });
    case '/stubs':
      return json(200, {
        http: attempt(() => fetch({ method: 'GET', url: 'https://example.com', headers: [], body: undefined })),
        storage: attempt(() => storageGet('ns', 'k')),
        uiProxy: attempt(() => callRoute('/x', undefined)),
        user: attempt(() => getUser()),
      });
    case '/alloc': {
      // Grows the heap until the memory cap stops it: distinct flat strings
      // of ~0.5 MiB each (join, not repeat, so no rope shares storage), kept alive.
      const hoard = [];
      for (let i = 0; ; i++) hoard.push(new Array(1 << 17).fill(i % 1000).join(','));
    }
    case '/secret-twice': {
      const first = getSecret(params.key);
      // A host call between the reads, so a rotation has a chance to land in between.
      logInfo('between reads');
      const second = getSecret(params.key);
      return json(200, { first, second });
    }
    case '/throw-secret':
      throw new Error('guest failed holding ' + getSecret(params.key));
    case '/user':
      return json(200, attempt(() => getUser()));
    case '/ui-proxy': {
      if (params.key) getSecret(params.key); // so the runner knows the value it must mask
      const result = attempt(() => callRoute(params.route, new TextEncoder().encode(params.payload ?? '')));
      return json(200, result.ok ? { ok: new TextDecoder().decode(result.ok) } : result);
    }
    case '/warmed-up':
      return json(200, { counter, warmedUp });
    case '/clock':
      return json(200, { wall: Date.now(), date: new Date().getTime(), mono: performance.now() });
    case '/timer': {
      const started = performance.now();
      await sleep(Number(params.ms ?? 10));
      return json(200, { fired: true, waited: performance.now() - started });
    }
    case '/interval': {
      let ticks = 0;
      let cancelledFired = false;
      const cancelled = setTimeout(() => { cancelledFired = true; }, 1);
      clearTimeout(cancelled);
      await new Promise((resolve) => {
        const id = setInterval(() => {
          ticks += 1;
          if (ticks === 3) { clearInterval(id); resolve(); }
        }, 2);
      });
      await sleep(5);
      return json(200, { ticks, cancelledFired });
    }
    case '/leave-timers':
      setTimeout(() => { leftTimersFired += 1; logInfo('a left timer fired'); }, 5);
      setInterval(() => { leftTimersFired += 1; logInfo('a left interval fired'); }, 5);
      return json(200, { armed: true });
    case '/left-timers':
      // Long enough for anything /leave-timers armed to have come due.
      await sleep(30);
      return json(200, { leftTimersFired });
    case '/bad-status':
      return { status: Number(params.code ?? 42), headers: [], body: undefined };
    case '/bad-headers':
      return {
        status: 200,
        headers: [
          { name: 'x-ext-nul', value: 'a\0b' },
          { name: 'x-ext-emoji', value: '\u{1F680}' },
          { name: 'x-ext-a b', value: 'spaced name' },
          { name: 'x-ext-latin1', value: 'caf\u00e9' },
          { name: 'x-ext-ok', value: 'kept' },
        ],
        body: undefined,
      };
    default:
      return json(404, { error: 'no such fixture path', path });
  }
}
`;
