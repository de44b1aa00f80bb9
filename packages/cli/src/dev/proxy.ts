import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The port the author curls: `/<path>` goes to the extension's endpoint
 * through the local gateway (with the local API key, so no auth header is
 * needed), `/ui/*` serves the extension's `ui/` folder, and
 * `/api/ext-proxy/<name>/*` does what the host's UI proxy does, so an
 * iframe page using `callProxyJson` works unchanged.
 */
export async function startDevProxy(options: {
  port: number;
  host: string;
  gatewayBase: () => string;
  apiKey: () => string;
  extensionId: () => string;
  uiDir: string;
}): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      const proxyPrefix = `/api/ext-proxy/${options.extensionId()}/`;
      if (url.pathname.startsWith('/ui/') || url.pathname === '/ui') {
        const rel = url.pathname.replace(/^\/ui\/?/, '') || 'index.html';
        const file = path.resolve(options.uiDir, rel);
        if (!file.startsWith(path.resolve(options.uiDir) + path.sep)) {
          res.writeHead(404).end();
          return;
        }
        try {
          const body = await readFile(file);
          res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
        } catch {
          res.writeHead(404, { 'content-type': 'text/plain' }).end(`No ui/${rel}\n`);
        }
        return;
      }
      const extPath = url.pathname.startsWith(proxyPrefix) ? url.pathname.slice(proxyPrefix.length - 1) : url.pathname;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers: Record<string, string> = { authorization: `Bearer ${options.apiKey()}` };
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      const upstream = await fetch(`${options.gatewayBase()}/api/ext/${options.extensionId()}${extPath}${url.search}`, {
        method: req.method ?? 'GET',
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, key) => {
        if (!['content-encoding', 'transfer-encoding', 'connection', 'content-length'].includes(key)) out[key] = value;
      });
      res.writeHead(upstream.status, out).end(Buffer.from(await upstream.arrayBuffer()));
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`alga dev: ${(error as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { url: `http://${options.host}:${port}`, server };
}
