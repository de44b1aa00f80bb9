import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver } from './testing.ts';
import { endSpan, startTracing, tracingEnabled, TracingConfigError } from './tracing.ts';

test('tracing is off unless OTEL_* asks for an exporter', () => {
  assert.equal(tracingEnabled({}), false);
  assert.equal(tracingEnabled({ OTEL_SERVICE_NAME: 'x' }), false);
  assert.equal(tracingEnabled({ OTEL_TRACES_EXPORTER: 'none' }), false);
  assert.equal(tracingEnabled({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
  assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
  assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), true);
  assert.equal(
    tracingEnabled({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
    false,
  );
  assert.equal(tracingEnabled({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), false);
  assert.throws(() => tracingEnabled({ OTEL_TRACES_EXPORTER: 'zipkin' }), TracingConfigError);
});

test('off, startTracing answers undefined', async () => {
  assert.equal(await startTracing({}, { serviceName: 'alga-test' }), undefined);
});

test('unsupported protocol and sampler are refused at start, not ignored', async () => {
  await assert.rejects(
    startTracing({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, { serviceName: 'x' }),
    /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/,
  );
  await assert.rejects(
    startTracing({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes' }, { serviceName: 'x' }),
    /OTEL_TRACES_SAMPLER/,
  );
});

test('on, spans reach an OTLP/HTTP receiver with the parent a traceparent named and the service name', async () => {
  const receiver = await startOtlpReceiver();
  // The exporter reads its endpoint from the process environment.
  const saved = { ...process.env };
  Object.assign(process.env, {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: 'alga-test',
  });
  try {
    const tracing = await startTracing(process.env, { serviceName: 'default-name' });
    assert.ok(tracing);
    const caller = tracing.start('caller', { kind: 'client' });
    const header = tracing.traceparent(caller);
    assert.match(header ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const parent = tracing.extract({ traceparent: header });
    assert.ok(parent);
    assert.equal(tracing.extract({ traceparent: 'garbage' }), undefined);
    assert.equal(tracing.extract({}), undefined);
    const child = tracing.start('callee', { kind: 'server', parent, attributes: { 'alga.request_id': 'r1' } });
    endSpan(child, { code: 'ALGA_TIMEOUT' });
    endSpan(caller);
    // shutdown exports what is buffered: no wait on the batch delay.
    await tracing.shutdown();
    const byName = new Map(receiver.spans.map((span) => [span.name, span]));
    assert.equal(byName.get('callee')?.parentSpanId, byName.get('caller')?.spanId);
    assert.equal(byName.get('callee')?.traceId, byName.get('caller')?.traceId);
    assert.equal(byName.get('callee')?.service, 'alga-test');
    assert.equal(byName.get('callee')?.status?.code, 2);
  } finally {
    process.env = saved;
    await receiver.close();
  }
});
