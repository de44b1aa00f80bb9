/**
 * The restore kernel puts marked blocks (and the first 16 bytes after each)
 * back to the image byte for byte, clears their marks, counts what differed,
 * and trusts the marks: an unmarked write is left alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WASM_PAGE_BYTES } from './binary.ts';
import { restoreKernel } from './restore-kernel.ts';

const BLOCK_SHIFT = 10;
const BLOCK = 1 << BLOCK_SHIFT;
/** A small layout for the test: one wasm page of marks, the image after it. */
const IMAGE_BASE = WASM_PAGE_BYTES;

function setUp(livePages = 2) {
  const live = new WebAssembly.Memory({ initial: livePages });
  const map = new WebAssembly.Memory({ initial: 1 + livePages });
  const bytes = livePages * WASM_PAGE_BYTES;
  const image = new Uint8Array(map.buffer, IMAGE_BASE, bytes);
  // A recognisable image, and a live memory that starts equal to it.
  for (let i = 0; i < bytes; i++) image[i] = (i * 7) & 0xff;
  new Uint8Array(live.buffer).set(image);
  const marks = new Uint8Array(map.buffer, 0, IMAGE_BASE);
  const restore = restoreKernel(live, map, { blockShift: BLOCK_SHIFT, imageBase: IMAGE_BASE });
  return { live: new Uint8Array(live.buffer), image, marks, blocks: bytes / BLOCK, restore };
}

describe('restore kernel', () => {
  it('puts every marked block back exactly and clears the marks', () => {
    const { live, image, marks, blocks, restore } = setUp();
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 300; i++) {
      const at = random() % live.length;
      live[at] = live[at]! ^ 0xff;
      marks[at >> BLOCK_SHIFT] = 1;
    }
    let differing = 0; // a byte flipped twice is back to the image
    for (let b = 0; b < blocks; b++) {
      const range = [b * BLOCK, (b + 1) * BLOCK] as const;
      if (!Buffer.from(live.subarray(...range)).equals(Buffer.from(image.subarray(...range)))) differing++;
    }
    assert.ok(differing > 100);
    assert.equal(restore(blocks), differing, 'one per block that differed');
    assert.ok(Buffer.from(live).equals(Buffer.from(image)), 'live memory equals the image again');
    assert.ok(
      marks.every((mark) => mark === 0),
      'marks are cleared',
    );
    assert.equal(restore(blocks), 0, 'nothing marked, nothing restored');
  });

  it('catches a store that straddles into the unmarked block after a marked one', () => {
    const { live, image, marks, blocks, restore } = setUp();
    // An 8-byte store at the last 3 bytes of block 4 spills 5 bytes into block 5.
    live.fill(0xee, 5 * BLOCK - 3, 5 * BLOCK + 5);
    marks[4] = 1;
    assert.equal(restore(blocks), 2);
    assert.ok(Buffer.from(live).equals(Buffer.from(image)));
  });

  it('leaves unmarked writes alone: the marks are the contract', () => {
    const { live, marks, blocks, restore } = setUp();
    live[7 * BLOCK + 100] = live[7 * BLOCK + 100]! ^ 1; // in no marked block
    live[9 * BLOCK + 16] = live[9 * BLOCK + 16]! ^ 1; // past the 16 bytes checked after block 8
    marks[8] = 1;
    assert.equal(restore(blocks), 0);
    assert.equal(live[7 * BLOCK + 100], (((7 * BLOCK + 100) * 7) & 0xff) ^ 1);
    assert.equal(live[9 * BLOCK + 16], (((9 * BLOCK + 16) * 7) & 0xff) ^ 1);
  });

  it('stays inside the memory at its last block and ignores marks past its end', () => {
    const { live, image, marks, blocks, restore } = setUp();
    live[live.length - 1] = live[live.length - 1]! ^ 1;
    marks[blocks - 1] = 1;
    marks[blocks] = 1; // an i32 argument that was not a pointer
    marks[blocks + 3] = 1;
    assert.equal(restore(blocks), 1);
    assert.ok(Buffer.from(live).equals(Buffer.from(image)));
    assert.deepEqual(
      [marks[blocks - 1], marks[blocks], marks[blocks + 3]],
      [0, 1, 1],
      'only marks of the memory are read',
    );
  });
});
