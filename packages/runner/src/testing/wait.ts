/**
 * Waiting in tests without racing the machine. A test waits for the event it
 * means (a promise, a log line, a metric), never for a stretch of time, and
 * an execution it expects to finish gets no deadline that a slow or busy
 * machine could reach first. Where a deadline is what a test proves, the test
 * mocks `setTimeout` and moves the clock itself once the guest is seen
 * running (`t.mock.timers.tick`), so the deadline passes after that event on
 * any machine.
 */

/**
 * The deadline of executions a test expects to finish: far beyond anything
 * load can cause. A test that hangs is stopped by the test runner's own
 * timeout (`npm test`: 10 minutes) before this passes.
 */
export const NO_DEADLINE_MS = 15 * 60_000;

/**
 * Resolves once `condition` holds, checked every few milliseconds, with no
 * deadline of its own: the test runner's timeout is the backstop. Sleeps with
 * `setInterval`, so it keeps working while a test mocks `setTimeout`.
 */
export async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) {
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        clearInterval(timer);
        resolve();
      }, 5);
    });
  }
}
