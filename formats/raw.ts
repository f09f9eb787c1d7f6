/**
 * `fmt:raw`: the image as a plain disk file, byte for byte.
 *
 * @module
 */

import { definePlugin, type DiskReader, IMAGE_MAGIC, type Plugin } from "../core/api.ts";

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
    close: () => file.close(),
  });
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
      write: (disk) => disk,
      open: (path) => openRawDisk(path),
    }],
  });
}
