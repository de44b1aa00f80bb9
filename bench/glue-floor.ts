/**
 * `node bench/glue-floor.ts`: the guest floor (one reused instance, in this
 * thread, no HTTP, no reset) with jco's glue as jco writes it against the
 * glue as the runner patches it (engine/jco-glue.ts), in alternating blocks
 * of the same process: process CPU ÷ requests, median of the blocks. For
 * checking what each glue patch is worth, e.g. after a jco upgrade.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { transpile } from '@bytecodealliance/jco';
import { buildExtension } from '@alga-psa/cli';
import {
  directHostImports,
  directMonotonicClock,
  readDebugFlagOnce,
  type GuestRoot,
  importGlue,
} from '../packages/runner/src/engine/jco-glue.ts';
import { BENCH_REQUEST, jcoHostImports } from './lib/jco-host.ts';

const BLOCKS = Number(process.env.BENCH_GLUE_BLOCKS ?? 12);
const PER_BLOCK = 400;

const build = await buildExtension({ dir: path.join(import.meta.dirname, 'fixtures/realistic') });
const { files } = await transpile(await readFile(build.componentPath), {
  name: 'c',
  instantiation: 'sync',
  noTypescript: true,
  quiet: true,
});
const raw = readDebugFlagOnce(Buffer.from(files['c.js']!).toString('utf8'));
const variants: [string, string][] = [
  ["jco's glue", raw],
  ['+ direct clock', directMonotonicClock(raw)],
  ['+ direct host imports (as the runner runs)', directHostImports(directMonotonicClock(raw))],
];

const modules: Record<string, WebAssembly.Module> = {};
for (const [name, bytes] of Object.entries(files))
  if (name.endsWith('.wasm')) modules[name] = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);

const instances: [string, GuestRoot][] = [];
for (const [name, glue] of variants) {
  const instantiate = await importGlue(glue);
  instances.push([name, instantiate((file) => modules[file]!, jcoHostImports() as never)]);
}
for (let i = 0; i < 2000; i++) for (const [, root] of instances) await root.handler(BENCH_REQUEST as never);

const samples = new Map<string, number[]>(instances.map(([name]) => [name, []]));
for (let block = 0; block < BLOCKS; block++) {
  for (const [name, root] of instances) {
    const before = process.cpuUsage();
    for (let i = 0; i < PER_BLOCK; i++) await root.handler(BENCH_REQUEST as never);
    const used = process.cpuUsage(before);
    samples.get(name)!.push((used.user + used.system) / PER_BLOCK / 1000);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const first = median(samples.get(variants[0]![0])!);
for (const [name, values] of samples) {
  const ms = median(values);
  console.log(`${name.padEnd(44)} ${ms.toFixed(4)} ms CPU per request  ${(ms / first).toFixed(3)}×`);
}
