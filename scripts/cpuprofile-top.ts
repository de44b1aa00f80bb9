/**
 * `node scripts/cpuprofile-top.ts <file.cpuprofile> [--skip-seconds N] [--top N] [--timeline]`:
 * where a V8 CPU profile (`node --cpu-prof`) spent its samples, as self time
 * per function and per place (package or source file), in percent of the
 * samples that were not idle. Hand-written: the profile format is a small
 * JSON tree, and the tools that read it (DevTools, speedscope) are
 * interactive; the perf records need a table to quote. Recipe:
 * docs/perf/034-request-path.md.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'skip-seconds': { type: 'string', default: '0' },
    top: { type: 'string', default: '25' },
    // Busy samples per second of the profile, to pick the window under load (--skip-seconds).
    timeline: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1) {
  process.stderr.write(
    'usage: node scripts/cpuprofile-top.ts <file.cpuprofile> [--skip-seconds N] [--top N] [--timeline]\n',
  );
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;
const skipUs = Number(values['skip-seconds']) * 1e6;
const top = Number(values.top);

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
/** Where a frame lives: `node_modules/<package>`, a repository path, or Node's own code. */
function place(url: string): string {
  if (!url) return '(native/V8)';
  // jco's glue is imported from a data: URL; its text is the whole module.
  if (url.startsWith('data:')) return '(data: module, jco glue)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const repo = /\/((?:packages|bench|scripts)\/.+)$/.exec(url);
  if (repo) return repo[1]!;
  return url.startsWith('node:') ? url : url.replace(/^file:\/\//, '');
}

const selfByFunction = new Map<string, number>();
const selfByPlace = new Map<string, number>();
/** Samples with the place anywhere on the stack: what a package costs with everything it calls. */
const inclusiveByPlace = new Map<string, number>();
let total = 0;
let idle = 0;
const busyBySecond = new Map<number, number>();
let at = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i]!;
  const node = byId.get(profile.samples[i]!)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const second = Math.floor((at - profile.startTime) / 1e6);
  if (functionName !== '(idle)') busyBySecond.set(second, (busyBySecond.get(second) ?? 0) + 1);
  if (at - profile.startTime < skipUs) continue;
  if (functionName === '(idle)') {
    idle++;
    continue;
  }
  total++;
  const fn = `${functionName || '(anonymous)'} ${place(url)}${url ? `:${lineNumber + 1}` : ''}`;
  selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + 1);
  selfByPlace.set(place(url), (selfByPlace.get(place(url)) ?? 0) + 1);
  const onStack = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parentOf.get(id)) {
    onStack.add(place(byId.get(id)!.callFrame.url));
  }
  for (const name of onStack) inclusiveByPlace.set(name, (inclusiveByPlace.get(name) ?? 0) + 1);
}

const print = (title: string, counts: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((count / total) * 100).toFixed(1).padStart(6)}%  ${name}\n`);
  }
};
if (values.timeline) {
  process.stdout.write('second: busy samples\n');
  for (const [second, count] of busyBySecond) process.stdout.write(`${String(second).padStart(6)}: ${count}\n`);
}
process.stdout.write(`${total} busy samples, ${idle} idle (after the first ${values['skip-seconds']} s)\n`);
print('self time by place', selfByPlace);
print('total time by place (anywhere on the stack)', inclusiveByPlace);
print('self time by function', selfByFunction);
