import type { Manifest } from './manifest.ts';

/**
 * A valid manifest that exercises every common field: two endpoints, an
 * allowed host, a setting of several types and two secrets. Shared by the
 * protocol, server and CLI tests so they agree on what "valid" looks like.
 */
export function sampleManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    name: 'hello-ext',
    publisher: 'acme',
    version: '1.0.0',
    description: 'Says hello.',
    runtime: 'wasm-js@1',
    capabilities: ['cap:secrets.get', 'cap:http.fetch'],
    api: {
      endpoints: [
        { method: 'GET', path: '/hello' },
        { method: 'POST', path: '/items/:id' },
      ],
    },
    allowedHosts: ['api.example.com'],
    settings: [
      { key: 'greeting', type: 'string', label: 'Greeting', default: 'Hello', required: true },
      { key: 'retries', type: 'number', label: 'Retries', default: 3, min: 0, max: 10 },
      {
        key: 'mode',
        type: 'select',
        label: 'Mode',
        default: 'fast',
        options: [
          { value: 'fast', label: 'Fast' },
          { value: 'safe', label: 'Safe' },
        ],
      },
      { key: 'api_token', type: 'string', label: 'API token', secret: true, required: true },
      { key: 'webhook_secret', type: 'string', label: 'Webhook secret', secret: true },
    ],
    ...overrides,
  };
}

/**
 * A manifest in the reference host's v2 format, as its nineminds-reporting
 * extension ships it: reverse-DNS name, a publisher with a space, a wildcard
 * version, a UI with an app-menu hook, `precompiled`, no `api`.
 */
export function sampleReferenceManifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'com.alga.ninemindsreporting',
    publisher: 'Nine Minds',
    version: '0.3.*',
    runtime: 'wasm-js@1',
    capabilities: ['cap:context.read', 'cap:log.emit', 'cap:ui.proxy'],
    ui: { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: 'Reports' } } },
    precompiled: { 'x86_64-linux-gnu': 'precompiled/x86_64-linux-gnu.cwasm' },
    ...overrides,
  };
}

/** One exported span, as an OTLP/HTTP JSON request carries it (ids in hex). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  events?: Array<{ name: string; attributes?: unknown[] }>;
  status?: { code?: number; message?: string };
  /** `service.name` of the process that exported it. */
  service: string;
}

export interface OtlpReceiver {
  /** For `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Every request body received, verbatim (for scans: nothing may hold a secret). */
  bodies: string[];
  close(): Promise<void>;
}

/**
 * An in-process OTLP/HTTP receiver on 127.0.0.1 for tests: collects spans
 * that exporters send with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`.
 * `keep: false` answers without keeping or parsing anything (a sink, for the bench).
 */
export async function startOtlpReceiver(options: { keep?: boolean } = {}): Promise<OtlpReceiver> {
  const keep = options.keep ?? true;
  const { createServer } = await import('node:http');
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (!keep) return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push(text);
      try {
        const body = JSON.parse(text) as {
          resourceSpans?: Array<{
            resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
            scopeSpans?: Array<{ spans?: Array<Omit<ReceivedSpan, 'service'>> }>;
          }>;
        };
        for (const resourceSpans of body.resourceSpans ?? []) {
          const service =
            resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) spans.push({ ...span, service });
          }
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    spans,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An attribute's value as a string (OTLP JSON wraps values by type). */
export function spanAttribute(span: ReceivedSpan, key: string): string | undefined {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  const [inner] = Object.values(value);
  return inner === undefined ? undefined : String(inner);
}
