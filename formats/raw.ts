/**
 * `fmt:raw`: the image as a plain disk file, byte for byte.
 *
 * @module
 */

import type { DiskReader, DiskSource, ImageOutput, Plugin } from "../core/api.ts";
import { dataClusters } from "../core/disk.ts";
import { IMAGE_MAGIC } from "../core/image.ts";
import { definePlugin } from "../core/plugin.ts";

/** Granularity at which zeros are left as holes. */
const RAW_CHUNK = 64 * 1024;

const MAGIC = new TextEncoder().encode(IMAGE_MAGIC);

function hasOsvHeader(head: Uint8Array): boolean {
  return head.length >= 512 + MAGIC.length && MAGIC.every((b, i) => head[512 + i] === b);
}

/**
 * Opens a raw disk file for random reads. The I/O is synchronous (reads are small and on `osv run`'s
 * start-up path, where a first async file op costs more than the read itself).
 *
 * @param path host path
 * @returns a reader over the file
 */
export function openRawDisk(path: string): Promise<DiskReader> {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    return Promise.reject(err);
  }
  const size = file.statSync().size;
  return Promise.resolve({
    size,
    read(offset, length) {
      const want = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(want);
      try {
        file.seekSync(offset, Deno.SeekMode.Start);
        let got = 0;
        while (got < want) {
          const n = file.readSync(buf.subarray(got));
          if (n === null) break;
          got += n;
        }
        return Promise.resolve(buf.subarray(0, got));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async *allocated() {
      // Deno cannot seek to data/holes: the whole file may hold data (zero chunks stay holes on write).
      if (size > 0) yield { offset: 0, length: size };
    },
    locate: (offset, length) => offset >= 0 && offset + length <= size ? offset : undefined,
    close: () => file.close(),
  });
}

/**
 * Writes a sparse disk as a raw file: non-zero 64 KiB chunks at their offsets, holes elsewhere.
 *
 * @param disk the disk
 * @param out the new file
 */
export async function writeRawDisk(disk: DiskSource, out: ImageOutput): Promise<void> {
  for await (const cluster of dataClusters(disk, RAW_CHUNK)) {
    const offset = cluster.index * RAW_CHUNK;
    await out.write(offset, cluster.data.subarray(0, Math.min(RAW_CHUNK, disk.size - offset)));
  }
  await out.truncate(disk.size);
}

/**
 * The raw image format plugin.
 *
 * @returns the `fmt:raw` plugin
 */
export function raw(): Plugin {
  return definePlugin({
    name: "fmt:raw",
    description: "raw disk image (.img)",
    formats: [{
      name: "raw",
      extensions: ["img", "raw"],
      probe: hasOsvHeader,
      write: (disk, out) => writeRawDisk(disk, out),
      open: (path) => openRawDisk(path),
    }],
  });
}
