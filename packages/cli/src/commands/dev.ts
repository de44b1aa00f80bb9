import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { secretKeys, settingsDefaults, type Manifest } from '@alga-psa/protocol';
import { buildExtension } from '../build/index.ts';
import { readLocalConfig, readLocalSecrets, SECRETS_FILE, writeLocalSecrets } from '../dev/local-files.ts';
import { startLocalPlatform, type LocalPlatform, type RunnerLogLine } from '../dev/platform.ts';
import { startDevProxy } from '../dev/proxy.ts';
import { watchTree, type TreeWatcher } from '../dev/watch.ts';
import { loadManifest } from '../build/manifest.ts';
import { formatMs, progressReporter, trapSummary } from '../output.ts';

const LEVELS: Record<number, string> = { 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** What the author should see from the runner's log: their own lines, and egress refusals with the fix. */
export function describeRunnerLine(line: RunnerLogLine): string | undefined {
  if (line.source === 'guest') return `[${LEVELS[line.level] ?? 'log'}] ${line.msg ?? ''}`;
  if (line.provider === 'http' && typeof line.add === 'string') {
    return `! outbound call to ${line.origin ?? line.add} refused: add "${line.add}" to "allowedHosts" in manifest.json`;
  }
  if (line.provider && line.level >= 40) return `! ${line.provider}: ${line.msg ?? ''}`;
  // Why a request failed: a trap (its masked detail), its deadline or its memory limit.
  if (line.level >= 40 && typeof line.detail === 'string') return `! ${line.msg ?? ''}: ${trapSummary(line.detail)}`;
  if (line.level >= 40 && line.msg?.startsWith('extension exceeded')) return `! ${line.msg}`;
  return undefined;
}

export function register(program: Command): void {
  program
    .command('dev')
    .description('Run the extension on a local platform, serve its endpoints, rebuild and reload on change')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('-p, --port <port>', 'local port for the extension (0 picks a free one)', '8787')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (opts: { dir: string; port: string; host: string }) => {
      const dir = path.resolve(opts.dir);
      const say = (m: string) => console.log(m);
      const warn = (m: string) => console.error(`warning: ${m}`);
      let { manifest } = await loadManifest(dir);

      const secrets = await readLocalSecrets(dir, warn);
      await promptForMissing(dir, manifest, secrets, warn);

      say('Starting the local platform (server + runner, data in .alga/dev/)…');
      const platform: LocalPlatform = await startLocalPlatform({
        dataDir: path.join(dir, '.alga', 'dev'),
        onRunnerLog: (line) => {
          const text = describeRunnerLine(line);
          if (text) say(text);
        },
      });
      let pushedSecrets = '';
      let generation = 0;

      /** Build, publish a dev version, upgrade the install, push config and changed secrets. */
      const deploy = async (reason: string): Promise<void> => {
        const started = performance.now();
        ({ manifest } = await loadManifest(dir));
        const progress = progressReporter();
        const build = await buildExtension({ dir, onProgress: progress.step }).finally(progress.done);
        // A fresh prerelease per reload: versions are immutable once published.
        generation += 1;
        const version = `${manifest.version.split('+')[0]!.split('-')[0]}-dev.${Date.now()}.${generation}`;
        const client = platform.client;
        await client.uploadBundle(build.metadata.contentHash, await readFile(build.componentPath));
        await client.publishVersion({
          manifest: { ...manifest, version },
          contentHash: build.metadata.contentHash,
          metadata: { ...build.metadata, version },
        });
        await client.install({ extensionId: manifest.name, version, grant: manifest.capabilities });
        const config = { ...settingsDefaults(manifest), ...(await readLocalConfig(dir)) };
        await client.setConfig(manifest.name, config);
        const current = await readLocalSecrets(dir, () => {});
        const fingerprint = JSON.stringify(current);
        if (fingerprint !== pushedSecrets) {
          for (const key of secretKeys(manifest)) {
            if (current[key] !== undefined) await client.setSecret(manifest.name, key, current[key]);
          }
          pushedSecrets = fingerprint;
        }
        say(`${reason} ${manifest.name}@${version} in ${formatMs(performance.now() - started)}`);
      };

      try {
        await deploy('Loaded');
      } catch (error) {
        // Keep running: the next save may fix it, like any watch mode.
        console.error(`alga: ${(error as Error).message}`);
      }
      const proxy = await startDevProxy({
        port: Number(opts.port),
        host: opts.host,
        gatewayBase: () => platform.serverUrl,
        apiKey: () => platform.apiKey,
        extensionId: () => manifest.name,
        uiDir: path.join(dir, 'ui'),
      });
      // Debounced: editors write a file in several steps.
      let timer: NodeJS.Timeout | undefined;
      let running: Promise<void> = Promise.resolve();
      const changed = new Set<string>();
      const onChange = (file: string) => {
        changed.add(file);
        clearTimeout(timer);
        timer = setTimeout(() => {
          const files = [...changed].join(', ');
          changed.clear();
          running = running.then(async () => {
            say(`Change detected: ${files}; rebuilding…`);
            try {
              await deploy('Reloaded');
            } catch (error) {
              console.error(`alga: ${(error as Error).message}`);
            }
          });
        }, 150);
      };
      const report = (file: string) => onChange(path.relative(dir, file));
      const watchers: TreeWatcher[] = await Promise.all([
        watchTree(path.join(dir, 'src'), { recursive: true, onChange: report }),
        watchTree(path.join(dir, 'ui'), { recursive: true, onChange: report }),
        watchTree(dir, { recursive: false, filter: (name) => name === 'manifest.json', onChange: report }),
        watchTree(path.join(dir, '.alga'), {
          recursive: false,
          filter: (name) => name.endsWith('.local.json'),
          onChange: report,
        }),
      ]);

      // Only now: an edit made as soon as this is printed must be seen.
      say(`Ready on ${proxy.url}`);
      for (const endpoint of manifest.api.endpoints) say(`  ${endpoint.method.padEnd(6)} ${proxy.url}${endpoint.path}`);
      if (existsSync(path.join(dir, 'ui'))) say(`  UI     ${proxy.url}/ui/?ext=${manifest.name}`);
      say('Watching src/, ui/, manifest.json and .alga/*.local.json; Ctrl-C to stop.');

      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      for (const w of watchers) w.close();
      clearTimeout(timer);
      await running.catch(() => {});
      proxy.server.close();
      await platform.close();
      say('Stopped.');
      process.exit(0);
    });
}

/** Declared secrets without a local value: ask on a terminal, explain otherwise. */
async function promptForMissing(
  dir: string,
  manifest: Manifest,
  secrets: Record<string, string>,
  warn: (m: string) => void,
): Promise<void> {
  const missing = secretKeys(manifest).filter((key) => secrets[key] === undefined);
  if (missing.length === 0) return;
  if (!process.stdin.isTTY) {
    for (const key of missing) {
      warn(
        `secret "${key}" has no local value; ctx.secrets.get('${key}') will reject with "missing". Add it to ${SECRETS_FILE}.`,
      );
    }
    return;
  }
  const { default: password } = await import('@inquirer/password');
  for (const key of missing) {
    const value = await password({
      message: `Local value for secret "${key}" (saved to ${SECRETS_FILE}, mode 0600):`,
      mask: '*',
    });
    if (value) secrets[key] = value;
  }
  await writeLocalSecrets(dir, secrets);
}
