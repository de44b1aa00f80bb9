/**
 * A private, throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir, on
 * a free loopback port) that a test may stop and restart at will, so the
 * shared 127.0.0.1:5432 is never touched. As root, the binaries run as the
 * `postgres` user, because PostgreSQL refuses to run as root.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../../scripts/lib/platform.ts';
import { NO_DEADLINE_MS } from '../../adversarial/lib/system.ts';

const run = promisify(execFile);

export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    if (existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

export interface PrivatePostgres {
  url: string;
  start(): Promise<void>;
  /** Fast shutdown: open connections are terminated, as in a real restart. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

export async function createPrivatePostgres(bin: string): Promise<PrivatePostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asRoot = userInfo().uid === 0;
  if (asRoot) await chown(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), 0);
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], { cwd: dir })
      : run(path.join(bin, tool), args, { cwd: dir });
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  // pg_ctl waits (-w) until the server is up or down; not its default 60 s, which a loaded machine could
  // exceed: as long as it takes (the test runner's timeout is the backstop).
  const wait = ['-w', '-t', String(NO_DEADLINE_MS / 1000)];
  const cluster: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () =>
      void (await pg('pg_ctl', ['-D', data, '-o', options, '-l', path.join(dir, 'log'), ...wait, 'start'])),
    stop: async () => void (await pg('pg_ctl', ['-D', data, '-m', 'fast', ...wait, 'stop'])),
    async destroy() {
      await cluster.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
