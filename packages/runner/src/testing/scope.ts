/** A stand-alone execution scope for provider tests (no guest, no worker). */
import type { ExecuteRequest } from '@alga-psa/protocol';
import { createLogger } from '../logger.ts';
import { createScope, type ClosableScope } from '../host-calls/index.ts';
import { executeRequest } from './harness.ts';

export interface TestScope extends ClosableScope {
  logs: Array<Record<string, unknown>>;
}

export function testScope(overrides: Partial<ExecuteRequest> = {}): TestScope {
  const logs: Array<Record<string, unknown>> = [];
  // The runner's own logger (secret masking included); pino writes each line with one synchronous `write`.
  const logger = createLogger({
    level: 'debug',
    stream: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const request = executeRequest(`sha256:${'0'.repeat(64)}`, overrides);
  return { ...createScope(request, logger), logs };
}
