/**
 * `fmt:raw`: the image as a plain disk file, byte for byte.
 *
 * @module
 */

import { definePlugin, type DiskReader, IMAGE_MAGIC, type Plugin } from "../mod.ts";

const MAGIC = new TextEncoder().encode(IMAGE_MAGIC);

function hasOsvHeader(head: Uint8Array): boolean {
  return head.length >= 512 + MAGIC.length && MAGIC.every((b, i) => head[512 + i] === b);
}

/**
 * Opens a raw disk file for random reads.
 *
 * @param path host path
 * @returns a reader over the file
 */
export async function openRawDisk(path: string): Promise<DiskReader> {
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  return {
    size,
    async read(offset, length) {
      const want = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(want);
      await file.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < want) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return buf.subarray(0, got);
    },
    close: () => file.close(),
  };
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
