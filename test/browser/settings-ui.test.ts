/**
 * The extension management and settings UI in a real browser (Debian's
 * Chromium driven by playwright-core) against the real server and runner
 * processes. Screenshots land in test-results/screenshots/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page } from 'playwright-core';
import { ApiClient } from '@alga-psa/cli';
import { bootstrapTenant, createTenantWithKey, migrate, openPglite } from '@alga-psa/server';
import { ensureChromium } from '../../scripts/ensure-chromium.ts';
import { launchChromium } from './lib/chromium.ts';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import type { ServiceProcess } from '../../scripts/lib/processes.ts';
import { ensureWebBuild } from '../../scripts/lib/web-build.ts';
import { NO_DEADLINE_MS } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtureDir = path.join(repo, 'test/browser/fixtures/settings-showcase');
const shots = path.join(repo, 'test-results/screenshots');
// A recognisable value: after it is saved, it must never come back to the browser.
const CANARY = `canary-${randomBytes(12).toString('hex')}`;

describe('web UI in a real browser', () => {
  let dataDir: string;
  let platform: Platform;
  let server: ServiceProcess;
  let context: BrowserContext;
  let page: Page;
  let attacker: Server;
  let adminPassword: string;
  let viewerPassword: string;
  let installId: string;
  let foreignInstallId: string;
  let client: ApiClient;
  /** The fixture's manifest and build, for publishing more extensions on the same component. */
  let manifest: Record<string, unknown>;
  let contentHash: string;
  /** Every response body the browser received, from the first page load on. */
  const seen: { url: string; body: string }[] = [];

  const settingsUrl = () => `${server.url}/msp/settings/extensions/${installId}/settings`;
  const shot = async (name: string) => {
    // From the top, so the sticky header is drawn where a person sees it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  };

  async function signIn(email: string, password: string): Promise<void> {
    await page.goto(`${server.url}/signin`);
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/msp\/settings\/extensions$/);
  }

  before(async () => {
    await ensureChromium((line) => console.error(line));
    await ensureWebBuild();
    await mkdir(shots, { recursive: true });

    dataDir = await mkdtemp(path.join(tmpdir(), 'alga-browser-'));
    let otherApiKey = '';
    platform = await startPlatform({
      readyTimeoutMs: NO_DEADLINE_MS,
      dataDir,
      serverEnv: { DATABASE_URL: '', LOG_LEVEL: 'warn' },
      // Seed before the server starts: the demo tenant (with its users, through
      // the same bootstrap the server runs) and a second tenant whose install
      // must stay invisible. PGlite allows one process at a time, hence before.
      beforeServer: async ({ bootstrapFile }) => {
        const seed = await openPglite(path.join(dataDir, 'pgdata'));
        await migrate(seed);
        await bootstrapTenant(seed, bootstrapFile);
        otherApiKey = (await createTenantWithKey(seed, { name: 'other-tenant' })).apiKey;
        await seed.close();
      },
    });
    server = platform.server;
    const demo = platform.credentials;
    adminPassword = demo.adminPassword!;
    viewerPassword = demo.viewerPassword!;

    client = new ApiClient({ serverUrl: server.url, apiKey: demo.apiKey });
    await deployExtension(client, fixtureDir);
    installId = (await client.getInstall('settings-showcase')).install.id;
    // A second extension on the same component, published but not installed: the install flow's subject.
    manifest = JSON.parse(await readFile(path.join(fixtureDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    ({ contentHash } = JSON.parse(await readFile(path.join(fixtureDir, 'dist/metadata.json'), 'utf8')) as {
      contentHash: string;
    });
    // Its API token is bound to one host (egress): the consent names that host.
    const settings = (manifest['settings'] as Record<string, unknown>[]).map((setting) =>
      setting['key'] === 'api_token' ? { ...setting, egress: ['api.helpdesk.example'] } : setting,
    );
    await client.publishVersion({
      manifest: { ...manifest, name: 'ticket-notes', description: 'Adds private notes to tickets.', settings },
      contentHash,
    });
    const otherClient = new ApiClient({ serverUrl: server.url, apiKey: otherApiKey });
    await otherClient.install({ extensionId: 'settings-showcase' });
    foreignInstallId = (await otherClient.getInstall('settings-showcase')).install.id;

    // Same site as the server (127.0.0.1), different origin: SameSite cookies
    // ARE sent from here, so only the Origin and CSRF checks stand in the way.
    attacker = createHttpServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(
        `<form id="f" method="POST" action="${server.url}/ui/api/installs/${installId}/reset"></form>` +
          '<script>document.getElementById("f").submit()</script>',
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));

    ({ context, page } = await launchChromium({ width: 1280, height: 860 }));
    context.on('response', (response) => {
      void response.text().then(
        (body) => seen.push({ url: response.url(), body }),
        () => undefined, // redirects and aborted requests have no body
      );
    });
  });

  after(async () => {
    await context?.close();
    attacker?.close();
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('an admin signs in and opens Settings from the extensions list', async () => {
    await page.goto(`${server.url}/msp/settings/extensions`);
    await page.waitForURL(/\/signin/);
    await signIn('admin@demo.local', adminPassword);
    const row = page.locator('tr[data-extension="settings-showcase"]');
    await row.getByText('Needs setup').waitFor();
    await page.locator('li[data-extension="ticket-notes"]').waitFor();
    await shot('extensions-list');
    await row.getByRole('link', { name: /Settings/ }).click();
    await page.waitForURL(settingsUrl());
    for (const heading of ['General', 'Sync', 'Notifications', 'Secrets']) {
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    }
    assert.equal(await page.locator('#setting-display_name').inputValue(), 'Helpdesk sync');
    assert.equal(await page.locator('#setting-sync_interval').inputValue(), '15');
    assert.equal(await page.locator('#setting-region').inputValue(), 'eu');
    await shot('settings');
  });

  test('a client-side error stops the save before it leaves the browser', async () => {
    await page.locator('#setting-display_name').fill('');
    await page.locator('#setting-sync_interval').fill('500');
    await page.getByRole('button', { name: 'Save changes' }).click();
    // The browser checks with the server's own validator, so it shows the server's words.
    await page.locator('#setting-display_name-error').getByText('"display_name" (Display name) is required.').waitFor();
    await page.locator('#setting-sync_interval-error').getByText('"sync_interval" must be ≤ 120.').waitFor();
    await page.getByText('Not saved: 2 fields need attention.').waitFor();
    await shot('settings-client-error');
  });

  test('a server-side error is shown on its field and nothing is saved', async () => {
    await page.locator('#setting-display_name').fill('Service desk');
    await page.locator('#setting-sync_interval').fill('30');
    // Only the server checks a secret's size (the browser never sees stored values).
    await page.locator('[data-secret="api_token"]').getByRole('button', { name: 'Set value' }).click();
    await page.locator('#secret-api_token').fill('x'.repeat(65 * 1024));
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#secret-api_token-error').getByText('larger than 64 KiB').waitFor();
    await page.getByText('Nothing was saved').waitFor();
    await shot('settings-server-error');
    await page.reload();
    assert.equal(await page.locator('#setting-display_name').inputValue(), 'Helpdesk sync');
  });

  test('every field type is edited, saved, and still there after a reload', async () => {
    await page.locator('#setting-display_name').fill('Service desk');
    await page.locator('#setting-signature').fill('Thanks,\nThe service desk');
    await page.locator('#setting-sync_interval').fill('30');
    await page.locator('#setting-auto_close').check();
    await page.locator('#setting-region').selectOption('us');
    await page.getByRole('checkbox', { name: 'Email' }).uncheck();
    await page.getByRole('checkbox', { name: 'Slack' }).check();
    await page.getByRole('checkbox', { name: 'Teams' }).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page
      .getByRole('status')
      .getByText(/^Saved\./)
      .waitFor();
    await page.reload();
    await page.locator('#setting-display_name').waitFor();
    assert.equal(await page.locator('#setting-display_name').inputValue(), 'Service desk');
    assert.equal(await page.locator('#setting-signature').inputValue(), 'Thanks,\nThe service desk');
    assert.equal(await page.locator('#setting-sync_interval').inputValue(), '30');
    assert.equal(await page.locator('#setting-auto_close').isChecked(), true);
    assert.equal(await page.locator('#setting-region').inputValue(), 'us');
    assert.equal(await page.getByRole('checkbox', { name: 'Email' }).isChecked(), false);
    assert.equal(await page.getByRole('checkbox', { name: 'Slack' }).isChecked(), true);
    assert.equal(await page.getByRole('checkbox', { name: 'Teams' }).isChecked(), true);
  });

  test('a saved secret never comes back: not in the DOM, not in any response', async () => {
    const secret = page.locator('li[data-secret="api_token"]');
    await secret.getByText('Not set').waitFor();
    await secret.getByRole('button', { name: /Set value/ }).click();
    await page.locator('#secret-api_token').fill(CANARY);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await secret.getByText(/Set · version 1 · updated .* by admin@demo\.local/).waitFor();
    assert.equal(await page.locator('#secret-api_token').count(), 0, 'the write-only input is gone after saving');
    await page.reload();
    await secret.getByText(/Set · version 1/).waitFor();
    await shot('settings-secret-set');
    const dom = await page.content();
    assert.ok(!dom.includes(CANARY), 'the DOM holds the secret');
    await page.goto(`${server.url}/msp/settings/extensions`);
    await page.locator('tr[data-extension="settings-showcase"]').getByText('Active').waitFor();
    await page.goto(settingsUrl());
    await secret.getByText(/Set · version 1/).waitFor();
    assert.ok(seen.length > 10, `only ${seen.length} responses recorded`);
    for (const response of seen) {
      assert.ok(!response.body.includes(CANARY), `${response.url} carried the secret`);
      assert.ok(!/vault:v\d+:/.test(response.body), `${response.url} carried a ciphertext`);
    }
  });

  test('History shows who changed what, newest first, with key names and never a value', async () => {
    const history = page.getByRole('region', { name: 'History' });
    const rows = history.locator('tbody tr');
    await rows.first().getByText('Changed secrets').waitFor();
    assert.match(await rows.first().innerText(), /just now\s+admin@demo\.local\s+Changed secrets api_token\s+1\s+\S+/);
    assert.match(await rows.nth(1).innerText(), /Changed settings .*display_name/);
    assert.match(await rows.last().innerText(), /Installed/);
    assert.ok(!(await history.innerText()).includes(CANARY));
    await history.screenshot({ path: path.join(shots, 'settings-history.png') });
  });

  test('a cross-site form POST to a settings route is refused', async () => {
    const attackerPage = await context.newPage();
    const refused = attackerPage.waitForResponse((r) => r.url().endsWith(`/ui/api/installs/${installId}/reset`));
    await attackerPage.goto(`http://127.0.0.1:${(attacker.address() as { port: number }).port}/`);
    const response = await refused;
    assert.equal(response.status(), 403);
    assert.match(await response.text(), /Cross-site requests are refused/);
    await attackerPage.close();
    await page.reload();
    assert.equal(await page.locator('#setting-display_name').inputValue(), 'Service desk', 'settings were reset');
  });

  test('reset to defaults asks first, then restores defaults and clears the secrets', async () => {
    await page.getByRole('button', { name: 'Reset to defaults' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset to defaults?' });
    await dialog.waitFor();
    await dialog.getByText('the 1 stored secret is cleared').waitFor();
    await shot('settings-reset-dialog');
    await dialog.getByRole('button', { name: 'Reset and clear secrets' }).click();
    await page.getByText('Settings restored to their defaults and the stored secret cleared.').waitFor();
    assert.equal(await page.locator('#setting-display_name').inputValue(), 'Helpdesk sync');
    assert.equal(await page.locator('#setting-sync_interval').inputValue(), '15');
    assert.equal(await page.locator('#setting-region').inputValue(), 'eu');
    assert.equal(await page.locator('#setting-auto_close').isChecked(), false);
    assert.equal(await page.locator('li[data-secret="api_token"]').getByText('Not set').count(), 1);
    assert.equal(await page.locator('li[data-secret="webhook_secret"]').getByText('Not set').count(), 1);
  });

  test('Save is enabled only with unsaved changes, and a cleared field shows the default in effect', async () => {
    const save = page.getByRole('button', { name: 'Save changes' });
    assert.equal(await save.isDisabled(), true, 'nothing changed yet');
    await page.locator('#setting-signature').fill('');
    await page.getByRole('status').getByText('Unsaved changes').waitFor();
    assert.equal(await save.isDisabled(), false);
    await save.click();
    await page
      .getByRole('status')
      .getByText(/^Saved\./)
      .waitFor();
    await page.reload();
    assert.equal(await page.locator('#setting-signature').inputValue(), '');
    assert.equal(await page.locator('#setting-signature').getAttribute('placeholder'), 'Sent by Alga');
    await page
      .locator('#setting-signature-hint')
      .getByText('Empty, so the default is in effect: Sent by Alga.')
      .waitFor();
    assert.equal(await save.isDisabled(), true, 'a fresh page has nothing unsaved');
  });

  test('at 390 px wide the header keeps "Sign out" on screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const box = await page.getByRole('button', { name: 'Sign out' }).boundingBox();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await shot('settings-390px');
    await page.setViewportSize({ width: 1280, height: 860 });
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `Sign out at ${JSON.stringify(box)}`);
    assert.ok(width <= 390, `the page is ${width}px wide`);
  });

  test('install asks for consent, naming the only host a secret is sent to; disable, enable and uninstall work from the list', async () => {
    await page.goto(`${server.url}/msp/settings/extensions`);
    await page
      .locator('li[data-extension="ticket-notes"]')
      .getByRole('button', { name: /Install/ })
      .click();
    const consent = page.getByRole('dialog', { name: /Install ticket-notes/ });
    await consent.getByText('Read the secrets you store for it').waitFor();
    const egress = consent.locator('p', { hasText: 'is only ever sent to' });
    assert.equal(
      (await egress.innerText()).replace(/\s+/g, ' '),
      'Secret api_token is only ever sent to api.helpdesk.example (the extension never sees its value).',
    );
    await shot('install-consent');
    await consent.getByRole('button', { name: 'Allow and install' }).click();
    await page.waitForURL(/\/msp\/settings\/extensions\/[0-9a-f-]+\/settings$/);
    await page.getByRole('heading', { name: /ticket-notes/ }).waitFor();
    await page.locator('#main').getByRole('link', { name: 'Extensions', exact: true }).click();
    const row = page.locator('tr[data-extension="ticket-notes"]');
    // The switch reflects the server's state, so it flips only once the write is done.
    await row.getByRole('switch').click();
    await row.getByText('Disabled').waitFor();
    await row.getByRole('switch').click();
    await row.getByText('Needs setup').waitFor();
    await row.getByRole('button', { name: /Uninstall/ }).click();
    const confirm = page.getByRole('dialog', { name: 'Uninstall ticket-notes?' });
    await confirm.getByRole('button', { name: 'Uninstall' }).click();
    await page.getByText('ticket-notes uninstalled.').waitFor();
    assert.equal(await page.locator('tr[data-extension="ticket-notes"]').count(), 0);
  });

  test('a secret an upgrade withholds says so on its row, and the install needs setup until it is set again', async () => {
    const bound = (manifest['settings'] as Record<string, unknown>[]).map((setting) =>
      setting['key'] === 'api_token' ? { ...setting, egress: ['api.helpdesk.example'] } : setting,
    );
    const withheld = { ...manifest, name: 'withheld-notes' };
    await client.publishVersion({ manifest: { ...withheld, settings: bound }, contentHash });
    await client.install({ extensionId: 'withheld-notes' });
    await client.setSecret('withheld-notes', 'api_token', CANARY);
    // 1.1.0 reads the token in plain: the value set for one host only is not handed to it.
    await client.publishVersion({ manifest: { ...withheld, version: '1.1.0' }, contentHash });
    await client.install({ extensionId: 'withheld-notes', version: '1.1.0' });

    await page.goto(`${server.url}/msp/settings/extensions`);
    const row = page.locator('tr[data-extension="withheld-notes"]');
    await row.getByText('Needs setup').waitFor();
    await page.goto(
      `${server.url}/msp/settings/extensions/${(await client.getInstall('withheld-notes')).install.id}/settings`,
    );
    const secret = page.locator('li[data-secret="api_token"]');
    await secret
      .getByText(/Not given to this version: the value was set when it could be sent to fewer hosts/)
      .waitFor();
    await shot('settings-secret-withheld');
    await secret.getByRole('button', { name: /Replace/ }).click();
    await page.locator('#secret-api_token').fill(CANARY);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await secret.getByText(/Set · version 2/).waitFor();
    assert.equal(await secret.locator('[data-withheld]').count(), 0);
    await page.goto(`${server.url}/msp/settings/extensions`);
    await row.getByText('Active').waitFor();
    await client.uninstall('withheld-notes');
  });

  test("another tenant's install id shows the 404 page", async () => {
    await page.goto(`${server.url}/msp/settings/extensions/${foreignInstallId}/settings`);
    await page.getByRole('heading', { name: 'Extension not found' }).waitFor();
    await shot('not-found');
  });

  test('a viewer sees settings read-only and the server refuses a forced write', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin/);
    await signIn('viewer@demo.local', viewerPassword);
    await page.goto(settingsUrl());
    await page.getByText('You have read-only access').waitFor();
    for (const id of ['display_name', 'signature', 'sync_interval', 'auto_close', 'region']) {
      assert.equal(await page.locator(`#setting-${id}`).isDisabled(), true, `${id} is editable`);
    }
    assert.equal(await page.getByRole('checkbox', { name: 'Email' }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: /Replace|Set value|Clear/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /Save changes|Reset to defaults/ }).count(), 0);
    assert.equal(await page.getByRole('heading', { name: 'Recent logs' }).count(), 0);
    await shot('settings-viewer');
    // A viewer with a valid session and CSRF token who forces the write anyway.
    const status = await page.evaluate(async (url) => {
      const { csrfToken } = (await (await fetch('/ui/api/session')).json()) as { csrfToken: string };
      const response = await fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ config: { display_name: 'hacked' } }),
      });
      return response.status;
    }, `/ui/api/installs/${installId}/settings`);
    assert.equal(status, 403);
  });

  test('the operator page takes the operator key, disables a capability for one tenant and follows global again, shows both in its history, creates a tenant and adds a client-portal user', async () => {
    await page.goto(`${server.url}/operator`);
    await page.locator('#operator-key').fill(`wrong-${'x'.repeat(40)}`);
    await page.getByRole('button', { name: 'Open provider policy' }).click();
    await page.getByText('The operator key is not valid.').waitFor();
    await page.locator('#operator-key').fill(platform.operatorKey!);
    await page.getByRole('button', { name: 'Open provider policy' }).click();
    await page.getByRole('heading', { name: 'Provider policy' }).waitFor();
    await page.locator('#policy-tenant').selectOption({ label: 'demo' });
    const row = page.locator('tr[data-capability="cap:secrets.get"]');
    await row.getByRole('button', { name: 'Disable for demo' }).click();
    await row.getByText('Disabled (tenant setting)').waitFor();
    await shot('operator-policy');
    const operator = new ApiClient({ serverUrl: server.url, apiKey: platform.operatorKey! });
    const catalog = await operator.policy('demo');
    assert.equal(catalog.capabilities.find((c) => c.capability === 'cap:secrets.get')?.effective, false);
    await row.getByRole('button', { name: 'Follow global' }).click();
    await row.getByRole('button', { name: 'Disable for demo' }).waitFor();
    const trail = await operator.policyAudit({ limit: 2 });
    assert.deepEqual(
      trail.entries.map((e) => e.action),
      ['policy.reset', 'policy.disable'],
    );
    // The page's own history shows both changes, newest first, for the tenant by name.
    const history = page.locator('tr[data-policy-change]');
    await page.locator('tr[data-policy-change="policy.reset"]').first().waitFor();
    assert.deepEqual((await history.nth(0).locator('td').allInnerTexts()).slice(2, 4), [
      'Reset cap:secrets.get',
      'demo',
    ]);
    assert.deepEqual((await history.nth(1).locator('td').allInnerTexts()).slice(2, 4), [
      'Disabled cap:secrets.get',
      'demo',
    ]);

    // Tenants and people on the same page: the key and a generated password are shown once.
    const name = `web-${Date.now().toString(36)}`;
    await page.locator('#new-tenant').fill(name);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const key = await page.getByLabel(`Admin API key of ${name}`).inputValue();
    assert.match(key, /^alga_sk_[0-9a-f]{16}_/);
    const installs = await fetch(`${server.url}/api/v1/installs`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(installs.status, 200, 'the key shown works');
    await page.getByRole('heading', { name: `People of ${name}` }).waitFor();
    await page.locator('#new-user-email').fill(`portal@${name}.test`);
    await page.locator('#new-user-role').selectOption('client');
    await page.locator('#new-user-client').fill('customer-42');
    await page.getByRole('button', { name: 'Add user' }).click();
    const password = await page.getByLabel(`Password of portal@${name}.test`).inputValue();
    assert.ok(password.length >= 20);
    await page.locator(`tr[data-user="portal@${name}.test"]`).getByText('customer-42').waitFor();
    await shot('operator-people');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal(await page.locator('[data-shown-once]').count(), 0, 'dismissed, the password is gone from the page');
    const { users } = await operator.users(name);
    assert.deepEqual(
      users.map((u) => [u.email, u.role, u.clientId]),
      [[`portal@${name}.test`, 'client', 'customer-42']],
    );
  });
});
