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
