/** A stand-alone execution scope for provider tests (no guest, no worker). */
import { pino } from 'pino';
import type { ExecuteRequest } from '@alga-psa/protocol';
import { createScope, type ClosableScope } from '../scope.ts';
import { executeRequest } from './harness.ts';

export interface TestScope extends ClosableScope {
  logs: Array<Record<string, unknown>>;
}

export function testScope(overrides: Partial<ExecuteRequest> = {}): TestScope {
  const logs: Array<Record<string, unknown>> = [];
  // pino writes each line with one synchronous `write` call.
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const request = executeRequest(`sha256:${'0'.repeat(64)}`, overrides);
  return { ...createScope(request, logger), logs };
}
