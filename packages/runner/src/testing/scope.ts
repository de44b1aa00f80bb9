/** A stand-alone execution scope for provider tests (no guest, no worker). */
import type { ExecuteRequest } from '@alga-psa/protocol';
import type { Span, Tracing } from '@alga-psa/protocol/tracing';
import { createLogger } from '../logger.ts';
import { createScope, type ClosableScope, type ExecutionTrace } from '../host-calls/index.ts';
import { executeRequest } from './harness.ts';

export interface TestScope extends ClosableScope {
  logs: Array<Record<string, unknown>>;
}

export function testScope(overrides: Partial<ExecuteRequest> = {}, trace?: ExecutionTrace): TestScope {
  const logs: Array<Record<string, unknown>> = [];
  // The runner's own logger (secret masking included); pino writes each line with one synchronous `write`.
  const logger = createLogger({
    level: 'debug',
    stream: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const request = executeRequest(`sha256:${'0'.repeat(64)}`, overrides);
  return { ...createScope(request, logger, trace), logs };
}

/** A span a `FakeTracing` made: what it was named and given, and whether it ended. */
export interface FakeSpan {
  name: string;
  kind: string;
  parent: FakeSpan | undefined;
  attributes: Record<string, unknown>;
  failed: boolean;
  ended: boolean;
}

/**
 * A `Tracing` that keeps its spans in memory, for provider and dispatcher
 * tests (the real one is tested in protocol, and end to end in the
 * adversarial suite). `traceparent` names the span by its index.
 */
export function fakeTracing(): { tracing: Tracing; spans: FakeSpan[]; trace(): ExecutionTrace } {
  const spans: FakeSpan[] = [];
  const records = new WeakMap<Span, FakeSpan>();
  const tracing: Tracing = {
    start(name, options = {}) {
      const record: FakeSpan = {
        name,
        kind: options.kind ?? 'internal',
        parent: options.parent && !('remote' in options.parent) ? records.get(options.parent) : undefined,
        attributes: { ...options.attributes },
        failed: false,
        ended: false,
      };
      spans.push(record);
      const span = {
        setAttribute(key: string, value: unknown) {
          record.attributes[key] = value;
          return span;
        },
        setStatus(status: { code: number }) {
          record.failed = status.code === 2;
          return span;
        },
        end() {
          record.ended = true;
        },
      } as unknown as Span;
      records.set(span, record);
      return span;
    },
    traceparent(span) {
      return `00-${'1'.repeat(32)}-${String(spans.indexOf(records.get(span)!)).padStart(16, '0')}-01`;
    },
    extract: () => undefined,
    shutdown: async () => {},
  };
  return {
    tracing,
    spans,
    trace: () => ({ tracing, execution: tracing.start('guest execute'), call: undefined }),
  };
}
