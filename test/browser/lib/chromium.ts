/**
 * Debian's Chromium, headless, as every browser test launches it: flags that keep it off the
 * network it cannot reach here, and no Playwright deadlines (each wait is for what the page shows;
 * the test runner's timeout is the backstop).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_PATH } from '../../../scripts/ensure-chromium.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(viewport: {
  width: number;
  height: number;
}): Promise<{ context: BrowserContext; page: Page }> {
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'alga-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  context.setDefaultTimeout(0);
  context.setDefaultNavigationTimeout(0);
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
}
