/** Progress goes to stderr so stdout stays clean for scripts and --json. */
export function status(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Progress for long steps: one line per step, and on a terminal an elapsed
 * counter that keeps ticking so a 10-second componentize does not look hung.
 */
export function progressReporter(): { step(message: string): void; done(): void } {
  let timer: NodeJS.Timeout | undefined;
  let started = 0;
  let current = '';
  const tty = process.stderr.isTTY;
  const clear = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    if (tty && current) process.stderr.write(`\r  ${current}… ${formatMs(performance.now() - started)}\n`);
  };
  return {
    step(message) {
      clear();
      current = message;
      started = performance.now();
      if (!tty) return status(`  ${message}…`);
      process.stderr.write(`  ${message}…`);
      timer = setInterval(() => process.stderr.write(`\r  ${message}… ${formatMs(performance.now() - started)}`), 500);
      timer.unref();
    },
    done: () => {
      clear();
      current = '';
    },
  };
}

/** Prints a value as JSON for scripts (`--json`). */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
}

/** A trap's message and the frame it happened in; the rest are numbered wasm functions, noise to an author. */
export function trapSummary(detail: string): string {
  const lines = detail.split('\n');
  const shown = lines.slice(0, 2).map((line) => line.trim());
  const more = lines.length - 2;
  return more > 0 ? `${shown.join(' ')} (and ${more} more frame${more === 1 ? '' : 's'})` : shown.join(' ');
}
