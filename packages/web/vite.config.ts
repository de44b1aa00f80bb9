import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `vite` (dev) proxies the UI API to a locally running server; the build is
// served by the server itself (packages/server/src/web/static.ts).
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: { proxy: { '/ui/api': process.env['ALGA_SERVER_URL'] ?? 'http://127.0.0.1:8080' } },
});
