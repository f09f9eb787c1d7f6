/**
 * Disk benchmarks (issue 3): image build throughput for a 200 MiB tree of mixed files against
 * `qemu-img convert` on the same data, and reading a 64 MiB file in the guest against the host.
 *
 * @module
 */

import { type Cell, failureText, measure, type Repeat, spawnTimed } from "./_measure.ts";

/** Bytes of the mixed tree. */
export const MIXED_TREE_BYTES = 200 << 20;

/** Writes a deterministic tree of mixed file sizes (many small, some medium, a few large) adding up to 200 MiB. */
export async function writeMixedTree(root: string): Promise<{ files: number; bytes: number }> {
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>>= 0;
  };
  const sizes = [
    ...Array.from({ length: 3000 }, () => next() % 8192), // small
    ...Array.from({ length: 200 }, () => 64 * 1024 + (next() % (256 * 1024))), // medium
  ];
  let used = sizes.reduce((a, b) => a + b, 0);
  while (used < MIXED_TREE_BYTES) { // large, up to 16 MiB each
    const size = Math.min(MIXED_TREE_BYTES - used, 4 * 1024 * 1024 + (next() % (12 * 1024 * 1024)));
    sizes.push(size);
    used += size;
  }
  const chunk = new Uint32Array(1 << 18);
  for (let i = 0; i < sizes.length; i++) {
    const dir = `${root}/d${String(i % 50).padStart(2, "0")}`;
    await Deno.mkdir(dir, { recursive: true });
    const file = await Deno.open(`${dir}/f${i}`, { write: true, create: true });
    let left = sizes[i] as number;
    while (left > 0) {
      for (let w = 0; w < chunk.length; w++) chunk[w] = next();
      const bytes = new Uint8Array(chunk.buffer, 0, Math.min(left, chunk.byteLength));
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      left -= bytes.length;
    }
    file.close();
  }
  return { files: sizes.length, bytes: used };
}

/** Throughput (MiB/s) of a command that processes `bytes`. */
export function throughput(
  bytes: number,
  command: () => { command: string; args: string[] },
  repeat: Repeat,
  before?: () => Promise<void>,
): Promise<Cell> {
  return measure(async () => {
    await before?.();
    const { command: cmd, args } = command();
    const run = await spawnTimed(cmd, args, 600_000);
    if (run.code !== 0) throw new Error(`${cmd} failed: ${failureText(run)}`);
    return Math.round(bytes / (1 << 20) / (run.ms / 1000) * 10) / 10;
  }, repeat);
}

/** MiB/s from treehash's `--read` line. */
export function readRate(stdout: string): number | null {
  const m = /read \d+ bytes in [\d.]+ s \(([\d.]+) MiB\/s\)/.exec(stdout);
  return m ? Number(m[1]) : null;
}
