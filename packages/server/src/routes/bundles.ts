import type { FastifyInstance } from 'fastify';
import { contentHashOf, type BundleStore } from '@alga-psa/bundle-store';
import { bundleBodyMissing, bundleHashMismatch, contentHashMalformed, notAComponent } from '../errors.ts';

export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
// Component Model binaries carry version 0x0d and layer 1; core modules carry version 1, layer 0.
const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00];
const CORE_MODULE_VERSION = [0x01, 0x00, 0x00, 0x00];

function startsWith(bytes: Uint8Array, prefix: number[], offset = 0): boolean {
  return prefix.every((byte, index) => bytes[offset + index] === byte);
}

/** Why the bytes are not a component, or undefined when they are one. */
export function componentProblem(bytes: Uint8Array): string | undefined {
  const hint = 'Build the extension with `alga build`, which produces a WebAssembly component.';
  if (!startsWith(bytes, WASM_MAGIC)) return `The bundle is not WebAssembly (no \\0asm header). ${hint}`;
  if (startsWith(bytes, CORE_MODULE_VERSION, 4))
    return `The bundle is a core WebAssembly module, not a component. ${hint}`;
  if (!startsWith(bytes, COMPONENT_VERSION, 4))
    return `The bundle has an unsupported WebAssembly version or layer. ${hint}`;
  return undefined;
}

/** `sha256:<hex>` or bare `<hex>` → `sha256:<hex>`; anything else is a 400. */
export function normalizeContentHash(value: string): string {
  const hex = value.startsWith('sha256:') ? value.slice('sha256:'.length) : value;
  if (!/^[0-9a-f]{64}$/.test(hex)) throw contentHashMalformed();
  return `sha256:${hex}`;
}

export function bundleRoutes(app: FastifyInstance, bundles: BundleStore): void {
  // Buffers, not streams: 64 MiB is small enough to hash in memory, and the
  // hash must be checked before anything is stored.
  app.addContentTypeParser(
    ['application/octet-stream', 'application/wasm'],
    // No parser-wide limit: it would apply to every route of the scope. Each route sets its own.
    { parseAs: 'buffer' },
    (_request, body, done) => done(null, body),
  );

  app.put<{ Params: { contentHash: string } }>(
    '/api/v1/bundles/:contentHash',
    { bodyLimit: MAX_BUNDLE_BYTES },
    async (request, reply) => {
      const claimed = normalizeContentHash(request.params.contentHash);
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw bundleBodyMissing();
      const actual = contentHashOf(body);
      if (actual !== claimed) throw bundleHashMismatch({ actual, claimed });
      const problem = componentProblem(body);
      if (problem) throw notAComponent({ problem });
      const existed = (await bundles.get(actual)) !== undefined;
      if (!existed) await bundles.put(body);
      return reply.code(existed ? 200 : 201).send({ contentHash: actual, size: body.length });
    },
  );
}
