/**
 * Busy polling: how long the main thread keeps checking for a job's result
 * after handing it to a worker, instead of sleeping until the worker's
 * message wakes it.
 *
 * A worker's result reaches a sleeping main thread through libuv: the
 * worker's post writes an eventfd, the kernel wakes the main thread out of
 * `epoll_wait` (on a virtual machine, an interrupt to a halted vCPU), and
 * Node then runs the port's message handler. Measured on 2 vCPUs that path
 * costs 40–55 µs of a ~0.36 ms request. While a poll is running the main
 * thread never sleeps: each turn of its event loop (which still serves
 * every other socket and timer) takes whatever the busy workers have posted
 * with `receiveMessageOnPort`, so a result is read a few µs after it was
 * posted. The price is CPU: up to the budget of main-thread time per
 * request, spent only while a request is in flight and only until its
 * budget runs out (a slow guest's result arrives as an event, as with
 * polling off).
 */
import { integerFromEnv } from './env.ts';

const DEFAULT_BUSY_POLL_MICROS = 0;
const MAX_BUSY_POLL_MICROS = 1_000_000;

/** `RUNNER_BUSY_POLL_US`: microseconds of polling after each dispatch, 0 for none. */
export function busyPollFromEnv(env: Record<string, string | undefined> = process.env): number {
  return integerFromEnv(env, 'RUNNER_BUSY_POLL_US', {
    fallback: DEFAULT_BUSY_POLL_MICROS,
    max: MAX_BUSY_POLL_MICROS,
    unit: 'microseconds',
  });
}
