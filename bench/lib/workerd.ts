/**
 * Cloudflare's workerd (the npm package's binary) serving the realistic
 * handler (bench/fixtures/workerd), the anchor of the side-by-side HTTP rows.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/lib/platform.ts';

const config = fileURLToPath(new URL('../fixtures/workerd/config.capnp', import.meta.url));
const binary = (createRequire(import.meta.url)('workerd') as { default: string }).default;

export interface Workerd {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startWorkerd(): Promise<Workerd> {
  const port = await freePort();
  const child = spawn(binary, ['serve', config, '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: path.dirname(config),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Drained and dropped: a pipe left unread would block its log writes.
  let output = '';
  const keep = (data: Buffer) => {
    if (output.length < 4096) output += data.toString('utf8');
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  // Ready when it answers: its "Listening on" line is not part of any contract.
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/work`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (attempt > 1200) throw new Error(`workerd did not answer on ${url} within 120 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
