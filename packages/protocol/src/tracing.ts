/**
 * OpenTelemetry tracing for the server and the runner, configured by the
 * standard `OTEL_*` variables and OFF unless they ask for an exporter.
 *
 * Off costs nothing: `startTracing` answers undefined, nothing from
 * OpenTelemetry is even loaded (the imports below are dynamic), and every
 * call site holds `Tracing | undefined`, so the off path is one `undefined`
 * check where a span would start (docs/perf/035-tracing.md).
 *
 * Spans are parented explicitly (a span or an extracted context is passed
 * down), not through an async context manager: the request path never pays
 * for AsyncLocalStorage, and no span can land under the wrong parent.
 *
 * Rule for every caller: a span's name, attributes and events never hold a
 * secret value, a ciphertext, a header value or a URL's path or query (which
 * a guest could fill with a secret). Ids, methods, hosts, status codes and
 * registry error codes only.
 */
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type * as TraceSdk from '@opentelemetry/sdk-trace';

export type { Attributes, Span } from '@opentelemetry/api';

/** A parent: a span of this process, or the remote context a received `traceparent` names. */
export type SpanParent = Span | RemoteParent;

/** What `extract` found in a request's headers (opaque to callers). */
export interface RemoteParent {
  readonly remote: Context;
}

export type SpanKindName = 'internal' | 'server' | 'client';

export interface StartOptions {
  kind?: SpanKindName;
  attributes?: Attributes;
  /** Absent: the span starts a new trace. */
  parent?: SpanParent | undefined;
}

export interface Tracing {
  /** Starts a span; end it with `span.end()` (or `endSpan`). */
  start(name: string, options?: StartOptions): Span;
  /** The W3C `traceparent` header value that makes `span` the parent on the other side. */
  traceparent(span: Span): string | undefined;
  /** The remote parent a request's `traceparent` header names; undefined when absent or malformed. */
  extract(headers: Record<string, string | string[] | undefined>): RemoteParent | undefined;
  /** Exports what is still buffered and stops the exporter. */
  shutdown(): Promise<void>;
}

/** Ends `span`, marking it failed with a registry code (never a message: messages may quote input). */
export function endSpan(span: Span, failure?: { code: string } | undefined): void {
  if (failure) {
    span.setAttribute('error.type', failure.code);
    span.setStatus({ code: SPAN_STATUS_ERROR });
  }
  span.end();
}

/** `SpanStatusCode.ERROR` of @opentelemetry/api, without loading it. */
const SPAN_STATUS_ERROR = 2;
/** `SpanKind` of @opentelemetry/api, without loading it. */
const SPAN_KINDS: Record<SpanKindName, number> = { internal: 0, server: 1, client: 2 };

export class TracingConfigError extends Error {}

/** The exporters we ship; anything else is refused at start rather than silently ignored. */
const EXPORTERS = new Set(['otlp', 'console', 'none']);

/**
 * Whether the environment turns tracing on: `OTEL_TRACES_EXPORTER=otlp` (or
 * `console`), or an OTLP endpoint set while `OTEL_TRACES_EXPORTER` is unset.
 * `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` keep it off.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  const exporters = exportersOf(env);
  if (exporters) return exporters.some((name) => name !== 'none');
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT']);
}

function exportersOf(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env['OTEL_TRACES_EXPORTER']?.trim();
  if (!raw) return undefined;
  const names = raw
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (!EXPORTERS.has(name)) {
      throw new TracingConfigError(`OTEL_TRACES_EXPORTER: "${name}" is not supported; use otlp, console or none.`);
    }
  }
  return names;
}

function numberFrom(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new TracingConfigError(`${name}: "${raw}" is not a number ≥ 0.`);
  return value;
}

/**
 * Starts tracing when the environment asks for it (see `tracingEnabled`);
 * otherwise answers undefined having loaded nothing. `serviceName` is the
 * default `service.name`; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` override it.
 * Throws `TracingConfigError` for a setting it cannot honour.
 */
export async function startTracing(
  env: NodeJS.ProcessEnv,
  defaults: { serviceName: string },
): Promise<Tracing | undefined> {
  if (!tracingEnabled(env)) return undefined;
  const [api, core, sdk, resources, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);

  const exporters = exportersOf(env) ?? ['otlp'];
  const processors = [];
  const batch = {
    ...optional('scheduledDelayMillis', numberFrom(env, 'OTEL_BSP_SCHEDULE_DELAY')),
    ...optional('exportTimeoutMillis', numberFrom(env, 'OTEL_BSP_EXPORT_TIMEOUT')),
    ...optional('maxQueueSize', numberFrom(env, 'OTEL_BSP_MAX_QUEUE_SIZE')),
    ...optional('maxExportBatchSize', numberFrom(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE')),
  };
  if (exporters.includes('otlp')) {
    const protocol = (
      env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ||
      env['OTEL_EXPORTER_OTLP_PROTOCOL'] ||
      'http/protobuf'
    ).trim();
    let exporter;
    // Endpoint, headers, timeout and compression come from OTEL_EXPORTER_OTLP_* (read by the exporter itself).
    if (protocol === 'http/protobuf') {
      exporter = new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    } else if (protocol === 'http/json') {
      exporter = new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    } else {
      throw new TracingConfigError(
        `OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported; use http/protobuf or http/json.`,
      );
    }
    processors.push(new sdk.BatchSpanProcessor({ exporter, ...batch }));
  }
  if (exporters.includes('console'))
    processors.push(new sdk.SimpleSpanProcessor({ exporter: new sdk.ConsoleSpanExporter() }));

  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: defaults.serviceName }))
    .merge(
      resources.detectResources({
        detectors: [resources.resourceAttributesEnvDetector, resources.serviceNameEnvDetector],
      }),
    );
  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplerFrom(env, sdk),
    spanProcessors: processors,
  });
  const tracer: Tracer = provider.getTracer('alga-extension-runtime');
  const propagator = new core.W3CTraceContextPropagator();

  const contextOf = (parent: SpanParent | undefined): Context => {
    if (!parent) return api.ROOT_CONTEXT;
    if ('remote' in parent) return parent.remote;
    return api.trace.setSpan(api.ROOT_CONTEXT, parent);
  };

  return {
    start(name, options = {}) {
      return tracer.startSpan(
        name,
        {
          kind: SPAN_KINDS[options.kind ?? 'internal'],
          ...(options.attributes ? { attributes: options.attributes } : {}),
        },
        contextOf(options.parent),
      );
    },
    traceparent(span) {
      const carrier: Record<string, string> = {};
      propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), carrier, api.defaultTextMapSetter);
      return carrier['traceparent'];
    },
    extract(headers) {
      if (headers['traceparent'] === undefined) return undefined;
      const remote = propagator.extract(api.ROOT_CONTEXT, headers, api.defaultTextMapGetter);
      return api.trace.getSpanContext(remote) ? { remote } : undefined;
    },
    shutdown: () => provider.shutdown(),
  };
}

function optional<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** `OTEL_TRACES_SAMPLER` / `_ARG`, as the specification names them (default `parentbased_always_on`). */
function samplerFrom(env: NodeJS.ProcessEnv, sdk: typeof TraceSdk) {
  const name = (env['OTEL_TRACES_SAMPLER'] || 'parentbased_always_on').trim().toLowerCase();
  const arg = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
  const ratio = () => {
    if (!arg) return 1;
    const value = Number(arg);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new TracingConfigError(`OTEL_TRACES_SAMPLER_ARG: "${arg}" is not a ratio between 0 and 1.`);
    }
    return value;
  };
  switch (name) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new TracingConfigError(
        `OTEL_TRACES_SAMPLER: "${name}" is not supported; use always_on, always_off, traceidratio or their parentbased_ forms.`,
      );
  }
}
