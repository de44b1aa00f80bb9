#!/usr/bin/env node
// Plain JS so that an old Node gets a clear message instead of a syntax error.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `alga: Node ${process.versions.node} is too old (need >= 22.18). Run it through npm (npx alga …), which uses the project's pinned Node 24.`,
  );
  process.exit(1);
}
await import('../src/main.ts');
