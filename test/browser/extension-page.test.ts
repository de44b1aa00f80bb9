/**
 * An extension's iframe page inside the product, in a real browser (Debian's
 * Chromium via playwright-core) against the real server and runner: the
 * ui-proxy-demo sample opened from the menu, calling its backend through the
 * bridge; what the sandbox and the CSP deny, asserted from inside the frame;
 * messages of the wrong shape or from the wrong window ignored; the host's
 * dark theme passed on to the frame; a viewer's view, and a client-portal
 * user's, who sees only the portal. Screenshots land in test-results/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Frame, type Page } from 'playwright-core';
import { ApiClient } from '@alga-psa/cli';
import { packExtension } from '../../packages/cli/src/pack/index.ts';
import { ensureChromium } from '../../scripts/ensure-chromium.ts';
import { launchChromium } from './lib/chromium.ts';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import type { ServiceProcess } from '../../scripts/lib/processes.ts';
import { ensureWebBuild } from '../../scripts/lib/web-build.ts';
import { NO_DEADLINE_MS } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sampleDir = path.join(repo, 'samples/ui-proxy-demo');
const shots = path.join(repo, 'test-results/screenshots');

describe('extension pages in the product, in a real browser', () => {
  let dataDir: string;
  let platform: Platform;
  let server: ServiceProcess;
  let context: BrowserContext;
  let page: Page;
  let elsewhere: Server;
  let elsewhereUrl: string;
  let adminPassword: string;
  let viewerPassword: string;
  let clientPassword: string;
  const proxyCalls: string[] = [];

  async function signIn(email: string, password: string, landing = /\/msp\/settings\/extensions$/): Promise<void> {
    await page.goto(`${server.url}/signin`);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(landing);
  }

  /** The frame's own `--bg`, which the sample sets from the host's theme colours. */
  async function frameBackground(frame: Frame): Promise<{ bg: string; scheme: string }> {
    return frame.evaluate(() => ({
      bg: document.documentElement.style.getPropertyValue('--bg'),
      scheme: document.documentElement.style.colorScheme,
    }));
  }

  /** The sample's frame, once its page has rendered the backend's answer. */
  async function demoFrame(): Promise<Frame> {
    const handle = await page.locator('iframe.extension-frame').elementHandle();
    const frame = await handle!.contentFrame();
    await frame!.locator('.summary').filter({ hasText: /\S/ }).waitFor();
    return frame!;
  }

  before(async () => {
    await ensureChromium((line) => console.error(line));
    await ensureWebBuild();
    dataDir = await mkdtemp(path.join(tmpdir(), 'alga-ext-page-'));
    platform = await startPlatform({
      readyTimeoutMs: NO_DEADLINE_MS,
      dataDir,
      serverEnv: { DATABASE_URL: '', LOG_LEVEL: 'warn' },
    });
    server = platform.server;
    adminPassword = platform.credentials.adminPassword!;
    viewerPassword = platform.credentials.viewerPassword!;
    clientPassword = platform.credentials.clientPassword!;
    const client = new ApiClient({ serverUrl: server.url, apiKey: platform.credentials.apiKey });
    const packed = await packExtension({ dir: sampleDir });
    await client.publishArchive(await readFile(packed.file));
    await client.install({ extensionId: 'ui-proxy-demo', version: packed.build.metadata.version });

    // Another origin the frame must not reach.
    elsewhere = createHttpServer((_request, response) => response.end('reached'));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}/`;

    ({ context, page } = await launchChromium({ width: 1280, height: 800 }));
    context.on('request', (request) => {
      if (request.url().includes('/api/ext-proxy/')) proxyCalls.push(`${request.method()} ${request.url()}`);
    });
  });

  after(async () => {
    await context?.close();
    elsewhere?.close();
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('an admin opens the page from the menu; it calls its backend through the bridge and shows the answer', async () => {
    await signIn('admin@demo.local', adminPassword);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Team summary' }).click();
    await page.waitForURL(/\/msp\/extensions\/[^/]+$/);
    await page.getByRole('heading', { name: 'Team summary' }).waitFor();
    const frame = await demoFrame();
    assert.equal(await frame.locator('h1').textContent(), 'Team summary');
    assert.match((await frame.locator('.summary').textContent()) ?? '', /^Hello, .* — last 7 days$/);
    // Display data from the host, over the bridge.
    await frame
      .locator('.who')
      .getByText(/Signed in as .* \(admin\)/)
      .waitFor();
    // The call went out from the host page, with its session: the frame itself holds none.
    assert.equal(proxyCalls.length, 1, proxyCalls.join('\n'));
    assert.match(proxyCalls[0]!, /^POST .*\/api\/ext-proxy\/ui-proxy-demo\/summary$/);
    // Sized to its content: the iframe is not the default 480 px tall but what the page reported.
    const height = await page.locator('iframe.extension-frame').evaluate((el) => el.getBoundingClientRect().height);
    const content = await frame.evaluate(() => document.documentElement.getBoundingClientRect().height);
    assert.ok(
      Math.abs(height - Math.max(100, Math.ceil(content)) - 2) <= 2,
      `iframe ${height}px, content ${content}px`,
    );
    // docs/images/extension-page.png is a copy of this one.
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'extension-page.png') });
  });

  test('the host follows the system’s dark scheme and passes it to the open frame, and to the next one', async () => {
    const hostSurface = () =>
      page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--surface').trim());
    const frame = await demoFrame();
    const light = await hostSurface();
    assert.deepEqual(await frameBackground(frame), { bg: light, scheme: 'light' });
    await page.emulateMedia({ colorScheme: 'dark' });
    // The open frame gets a `theme` message: no reload.
    await frame.waitForFunction(() => document.documentElement.style.colorScheme === 'dark');
    assert.equal(await page.evaluate(() => document.documentElement.dataset['theme']), 'dark');
    const surface = await hostSurface();
    assert.notEqual(surface, light);
    assert.deepEqual(await frameBackground(frame), { bg: surface, scheme: 'dark' });
    // A page opened while dark starts dark: `init` carries the theme.
    await page.reload();
    assert.deepEqual(await frameBackground(await demoFrame()), { bg: surface, scheme: 'dark' });
    await page.screenshot({ path: path.join(shots, 'extension-page-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
    await (await demoFrame()).waitForFunction(() => document.documentElement.style.colorScheme === 'light');
  });

  test('inside the frame: an opaque origin that cannot read the host’s cookies, storage or DOM', async () => {
    const frame = await demoFrame();
    const probe = await frame.evaluate(() => {
      const attempt = (f: () => unknown) => {
        try {
          return `read: ${String(f())}`;
        } catch (error) {
          return `denied: ${(error as Error).name}`;
        }
      };
      return {
        origin: self.origin,
        cookie: attempt(() => document.cookie),
        storage: attempt(() => localStorage.length),
        parentDom: attempt(() => window.parent.document.title),
        parentCookie: attempt(() => window.parent.document.cookie),
      };
    });
    assert.deepEqual(probe, {
      origin: 'null',
      cookie: 'denied: SecurityError',
      storage: 'denied: SecurityError',
      parentDom: 'denied: SecurityError',
      parentCookie: 'denied: SecurityError',
    });
  });

  test("the frame gets the reference host's query (path, tenant, extensionId) and knows the product page that holds it", async () => {
    const frame = await demoFrame();
    const seen = await frame.evaluate(() => ({
      query: Object.fromEntries(new URLSearchParams(location.search)),
      referrer: document.referrer,
    }));
    assert.equal(seen.query['path'], '/');
    assert.match(seen.query['tenant'] ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(seen.query['extensionId']);
    assert.equal(new URL(seen.referrer).pathname, new URL(page.url()).pathname);
  });

  test('the CSP blocks an inline script and a request to another origin, as the browser reports', async () => {
    const frame = await demoFrame();
    const report = await frame.evaluate(async (target) => {
      const violations: string[] = [];
      const seen = new Promise<void>((resolve) =>
        document.addEventListener('securitypolicyviolation', (event) => {
          violations.push(`${event.effectiveDirective} ${event.blockedURI}`);
          if (violations.length === 2) resolve();
        }),
      );
      const w = window as unknown as { inlineRan?: boolean };
      const script = document.createElement('script');
      script.textContent = 'window.inlineRan = true';
      document.body.append(script);
      const fetched = await fetch(target).then(
        () => 'fetched',
        (error: Error) => `refused: ${error.name}`,
      );
      await seen;
      return { violations: violations.sort(), inlineRan: w.inlineRan === true, fetched };
    }, elsewhereUrl);
    assert.equal(report.inlineRan, false);
    assert.equal(report.fetched, 'refused: TypeError');
    assert.deepEqual(report.violations, [`connect-src ${elsewhereUrl}`, 'script-src-elem inline']);
  });

  test('messages of the wrong shape, or from a window other than the frame, are ignored', async () => {
    const frame = await demoFrame();
    const before = proxyCalls.length;
    // From the host page itself: right shape, wrong source.
    await page.evaluate(() =>
      window.postMessage(
        { alga: true, version: '1', type: 'apiproxy', request_id: 'from-top', payload: { route: '/summary' } },
        '*',
      ),
    );
    const answers = await frame.evaluate(async () => {
      const received: string[] = [];
      window.addEventListener('message', (event) => {
        const data = event.data as { request_id?: string };
        if (data?.request_id) received.push(data.request_id);
      });
      const post = (message: unknown) => window.parent.postMessage(message, '*');
      // Wrong shapes: no envelope, wrong version, a route that climbs out, a non-base64 body, an unknown method.
      post({ type: 'apiproxy', request_id: 'no-envelope', payload: { route: '/summary' } });
      post({ alga: true, version: '2', type: 'apiproxy', request_id: 'bad-version', payload: { route: '/summary' } });
      post({
        alga: true,
        version: '1',
        type: 'apiproxy',
        request_id: 'climbs',
        payload: { route: '/../../ui/api/session' },
      });
      post({
        alga: true,
        version: '1',
        type: 'apiproxy',
        request_id: 'bad-body',
        payload: { route: '/summary', body: '%%' },
      });
      post({
        alga: true,
        version: '1',
        type: 'apiproxy',
        request_id: 'bad-method',
        payload: { route: '/summary', method: 'TRACE' },
      });
      // Then one well-formed call (the reference's shape: base64 body, no method means POST).
      await new Promise<void>((resolve) => {
        window.addEventListener('message', (event) => {
          if ((event.data as { request_id?: string })?.request_id === 'good') resolve();
        });
        post({
          alga: true,
          version: '1',
          type: 'apiproxy',
          request_id: 'good',
          payload: { route: '/summary', body: btoa(JSON.stringify({ days: 3 })) },
        });
      });
      return received;
    });
    // Messages are handled in order, so by the time "good" is answered the others were read and dropped.
    assert.deepEqual(answers, ['good']);
    assert.equal(proxyCalls.length - before, 1, proxyCalls.slice(before).join('\n'));
  });

  test('a viewer sees the page in the menu; the proxy refuses the page’s write for that role', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await signIn('viewer@demo.local', viewerPassword);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Team summary' }).click();
    const frame = await demoFrame();
    // The sample's one call is a POST; viewers only read.
    assert.match((await frame.locator('.summary').textContent()) ?? '', /^Could not load: /);
    await frame
      .locator('.who')
      .getByText(/\(viewer\)/)
      .waitFor();
  });

  test('a client-portal user sees only the portal: the clientPortalMenu page works, staff pages and APIs do not', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await signIn('client@demo.local', clientPassword, /\/client-portal$/);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'My summary' }).waitFor();
    // The hook's label, and nothing of the staff app (no Extensions, no appMenu entry).
    assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Home', 'My summary']);
    const before = proxyCalls.length;
    await nav.getByRole('link', { name: 'My summary' }).click();
    await page.waitForURL(/\/client-portal\/extensions\/[^/]+$/);
    const installId = decodeURIComponent(page.url().split('/').pop()!);
    const frame = await demoFrame();
    // The page's POST goes through the same proxy, as the client: their role may call a portal extension.
    assert.match((await frame.locator('.summary').textContent()) ?? '', /^Hello, Demo Client User — last 7 days$/);
    await frame
      .locator('.who')
      .getByText(/\(client\)/)
      .waitFor();
    assert.equal(proxyCalls.length - before, 1);
    assert.match(proxyCalls.at(-1)!, /^POST .*\/api\/ext-proxy\/ui-proxy-demo\/summary$/);
    await page.screenshot({ path: path.join(shots, 'client-portal-page.png') });

    // A reload (a bookmark, a link in an email) of a portal page loads the app again, not the API's 404.
    for (const portalPage of [page.url(), `${server.url}/client-portal`]) {
      const reloaded = await page.goto(portalPage);
      assert.equal(reloaded?.status(), 200, portalPage);
      assert.match(reloaded.headers()['content-type'] ?? '', /^text\/html/, portalPage);
    }
    await nav.getByRole('link', { name: 'My summary' }).click();
    assert.match((await (await demoFrame()).locator('.summary').textContent()) ?? '', /^Hello, Demo Client User/);

    // Staff pages are not shown, and the server refuses their APIs, not only the menu.
    for (const staffPage of ['/msp/settings/extensions', `/msp/settings/extensions/${installId}/settings`]) {
      await page.goto(`${server.url}${staffPage}`);
      await page.getByRole('heading', { name: 'Not available in the client portal' }).waitFor();
    }
    for (const api of [
      '/ui/api/extensions',
      `/ui/api/installs/${installId}/settings`,
      `/ui/api/installs/${installId}/audit`,
      `/ui/api/installs/${installId}/logs`,
    ]) {
      const response = await page.request.get(`${server.url}${api}`);
      assert.equal(response.status(), 403, `${api}: ${await response.text()}`);
    }
    const gateway = await page.request.get(`${server.url}/api/ext/ui-proxy-demo/summary`);
    assert.equal(gateway.status(), 403);
  });
});
