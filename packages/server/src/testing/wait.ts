/**
 * Waiting in the server's tests without racing the machine: a call a test
 * expects to be answered gets no deadline a slow or busy machine could reach.
 */

/**
 * A deadline for calls a test expects to be answered (a gateway's wait for a
 * stand-in runner, an execution): far beyond anything load causes. A test
 * that hangs is stopped by the test runner's own timeout.
 */
export const NO_DEADLINE_MS = 15 * 60_000;
