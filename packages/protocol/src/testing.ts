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
