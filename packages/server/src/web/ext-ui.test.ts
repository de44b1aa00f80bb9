/**
 * Extension iframe pages served from the bundle store: content-addressed
 * URLs, the strict headers, the SPA fallback, and nothing served that is
 * not one of the version's UI files.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { createUser } from '../auth/session.ts';
import { testEngines } from '../testing/databases.ts';
import { bundleArchive } from '../testing/archives.ts';
import {
  componentWithImports,
  install,
  sampleManifest,
  startTestServer,
  type TestContext,
} from '../testing/fixtures.ts';

for (const engine of testEngines()) {
  describe(`extension UI pages (${engine.name})`, () => {
    let ctx: TestContext;
    let base: string;
    before(async () => {
      ctx = await startTestServer(await engine.open());
      const component = await componentWithImports(['alga:extension/types@0.1.0']);
      const manifest = sampleManifest({
        name: 'paged-ext',
        ui: { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: ' Reports ' } } },
      });
      const archive = bundleArchive(
        manifest,
        component,
        contentHashOf(component),
        [
          { path: 'ui/index.html', body: '<!doctype html><script type="module" src="./app.js"></script>' },
          { path: 'ui/app.js', body: 'console.log(1)' },
          { path: 'ui/assets/logo.svg', body: '<svg xmlns="http://www.w3.org/2000/svg"/>' },
        ],
        { name: manifest.name, version: manifest.version },
      );
      const published = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/publish',
        headers: { authorization: ctx.adminA, 'content-type': 'application/gzip' },
        payload: archive,
      });
      assert.equal(published.statusCode, 201, published.body);
      const { rows } = await ctx.db.query<{ files_digest: string }>(
        "SELECT files_digest FROM extension_versions WHERE extension_id = 'paged-ext'",
      );
      base = `/ext-ui/paged-ext/${rows[0]!.files_digest.slice('sha256:'.length)}`;
      assert.equal((await install(ctx, 'paged-ext')).statusCode, 201);
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const get = (url: string, headers: Record<string, string> = {}) =>
      ctx.server.app.inject({ method: 'GET', url, headers: { host: 'alga.test:8443', ...headers } });

    test('the entry is served with a CSP naming only its own folder and its proxy, sandboxed, nosniff, cached for a year', async () => {
      const response = await get(`${base}/index.html`);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, new RegExp(`script-src alga\\.test:8443${base}/;`));
      assert.match(csp, /connect-src alga\.test:8443\/api\/ext-proxy\/paged-ext\/;/);
      assert.match(csp, /frame-ancestors 'self'/);
      assert.match(csp, /sandbox allow-scripts$/);
      // Inline styles only (the reference host's UIs carry a <style> block); never inline script or eval.
      assert.match(csp, new RegExp(`style-src alga\\.test:8443${base}/ 'unsafe-inline';`));
      assert.doesNotMatch(csp.replace(/style-src [^;]*;/, ''), /unsafe-inline|unsafe-eval|allow-same-origin/);
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(response.headers['vary'], 'Host');
      // Public, credential-less files: a wildcard, never an echoed origin with credentials.
      assert.equal(response.headers['access-control-allow-origin'], '*');
      assert.equal(response.headers['access-control-allow-credentials'], undefined);
      assert.equal(response.headers['set-cookie'], undefined);
    });

    test('a Host header that is not a host name is refused, not written into the policy', async () => {
      for (const host of ["evil.example script-src * 'unsafe-inline'; connect-src *; x", 'a;b', 'a b:80']) {
        const response = await get(`${base}/index.html`, { host });
        assert.equal(response.statusCode, 400, host);
        assert.equal(response.headers['content-security-policy'], undefined);
      }
      assert.equal((await get(`${base}/index.html`, { host: '[::1]:8080' })).statusCode, 200);
    });

    test('assets keep their content types; a client-side route falls back to the entry, a missing asset is a 404', async () => {
      assert.equal((await get(`${base}/app.js`)).headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal((await get(`${base}/assets/logo.svg`)).headers['content-type'], 'image/svg+xml');
      for (const route of [`${base}/`, `${base}/reports/42`]) {
        const page = await get(route);
        assert.equal(page.statusCode, 200, route);
        assert.match(page.body, /app\.js/);
      }
      assert.equal((await get(`${base}/missing.js`)).statusCode, 404);
      const bare = await get(base);
      assert.equal(bare.statusCode, 308);
      assert.equal(bare.headers.location, `${base}/`);
    });

    test('traversal, dotfiles, a wrong digest or another extension name serve nothing', async () => {
      for (const url of [
        `${base}/../index.html`,
        `${base}/%2e%2e/%2e%2e/manifest.json`,
        `${base}/.env`,
        `${base}/assets/..%2f..%2fapp.js`,
        `/ext-ui/paged-ext/${'0'.repeat(64)}/index.html`,
        `/ext-ui/paged-ext/not-a-digest/index.html`,
        `/ext-ui/other-ext/${base.split('/')[3]}/index.html`,
        `${base}/component.wasm`,
        `${base}/manifest.json`,
      ]) {
        const response = await get(url);
        assert.ok(response.statusCode === 404 || response.statusCode === 400, `${url}: ${response.statusCode}`);
        assert.doesNotMatch(response.body, /app\.js|console\.log/, url);
      }
    });

    test("the extensions list gives each install's UI URL and its menu labels", async () => {
      await createUser(ctx.db, {
        tenantId: ctx.tenantA,
        email: 'ui@a.test',
        role: 'viewer',
        password: 'viewer-pass-1',
      });
      const csrf = await ctx.server.app.inject({
        method: 'GET',
        url: '/ui/api/session',
        headers: { host: 'localhost' },
      });
      const cookies = Object.fromEntries(csrf.cookies.map((c) => [c.name, c.value]));
      const signIn = await ctx.server.app.inject({
        method: 'POST',
        url: '/ui/api/session',
        headers: {
          host: 'localhost',
          origin: 'http://localhost',
          'x-csrf-token': csrf.json().csrfToken,
          cookie: Object.entries(cookies)
            .map(([k, v]) => `${k}=${v}`)
            .join('; '),
        },
        payload: { email: 'ui@a.test', password: 'viewer-pass-1' },
      });
      assert.equal(signIn.statusCode, 200, signIn.body);
      for (const c of signIn.cookies) cookies[c.name] = c.value;
      const list = await ctx.server.app.inject({
        method: 'GET',
        url: '/ui/api/extensions',
        headers: {
          host: 'localhost',
          cookie: Object.entries(cookies)
            .map(([k, v]) => `${k}=${v}`)
            .join('; '),
        },
      });
      assert.equal(list.statusCode, 200, list.body);
      const installed = list.json().installed.find((i: { extensionId: string }) => i.extensionId === 'paged-ext');
      assert.deepEqual(installed.ui, { url: `${base}/index.html`, appMenu: 'Reports', clientPortalMenu: null });
    });
  });
}
