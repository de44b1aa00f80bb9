#!/usr/bin/env node
// Plain JS so that an old Node gets a clear message instead of a syntax error.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `alga: Node ${process.versions.node} is too old (need >= 22.19). Install Node 22.19 or newer (in this repository, run it through npm: npx alga …, which uses the pinned Node 24).`,
  );
  process.exit(1);
}
// The published package ships compiled JavaScript; this repository runs the TypeScript sources.
const { existsSync } = await import('node:fs');
const compiled = new URL('../src/main.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : '../src/main.ts');
