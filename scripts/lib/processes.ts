import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface ServiceProcess {
  name: string;
  url: string;
  child: ChildProcess;
  /** Everything the process wrote, kept for assertions and failure reports. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  name: string;
  /** Script run with this same Node binary. */
  script?: string;
  /** Or an executable to run instead (e.g. an installed package's bin, which picks its own Node flags). */
  command?: string;
  /** Node flags before the script (e.g. the runner's `RUNNER_NODE_FLAGS`). */
  nodeArgs?: readonly string[];
  /** Arguments after the script or command. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A stdout line matching this means ready; group 1 is the URL. */
  ready: RegExp;
  timeoutMs?: number;
  /** Also append output to this file. */
  logFile?: string;
}

/**
 * Spawns one of our services with the current (pinned) Node and waits for its
 * "ready on <url>" line — the same contract a user sees, so tests exercise the
 * real processes the way an operator starts them.
 */
export async function startService(options: StartOptions): Promise<ServiceProcess> {
  const [file, args] = options.command
    ? [options.command, [...(options.args ?? [])]]
    : [process.execPath, [...(options.nodeArgs ?? []), options.script ?? '', ...(options.args ?? [])]];
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a', mode: 0o600 }) : undefined;
  // Both streams are drained for the whole life of the child: a pipe left
  // unread fills up and blocks the child's next synchronous log write.
  let onStdoutLine: ((line: string) => void) | undefined;
  let partial = '';
  child.stdout!.on('data', (data: Buffer) => {
    chunks.push(data.toString('utf8'));
    log?.write(data);
    if (!onStdoutLine) return;
    const lines = (partial + data.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onStdoutLine?.(line);
  });
  child.stderr!.on('data', (data: Buffer) => {
    chunks.push(data.toString('utf8'));
    log?.write(data);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${options.name} did not become ready within ${options.timeoutMs ?? 30_000} ms:\n${tail(chunks.join(''))}`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    onStdoutLine = (line) => {
      const match = options.ready.exec(line);
      if (match) {
        clearTimeout(timer);
        onStdoutLine = undefined;
        resolve(match[1]!);
      }
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited with code ${code} before it was ready:\n${tail(chunks.join(''))}`));
    });
  });

  return {
    name: options.name,
    url,
    child,
    output: () => chunks.join(''),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      log?.end();
      return code;
    },
  };
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** What a command run to its exit printed, and how it ended. */
export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its exit, feeding it `input` (or nothing) on stdin: how the tests drive the CLI. */
export function runToExit(
  command: string,
  args: string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    input?: string;
    /** Both streams' output as it comes, for progress on long work. */
    onOutput?: ((chunk: string) => void) | undefined;
  },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onOutput?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onOutput?.(d.toString());
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
