/**
 * Streams a host file into a filesystem image, checking it still has the size the plan was made with.
 *
 * @module
 */

/** Chunk size for big files; a small file is read whole into a buffer of its own size. */
const CHUNK = 1 << 20;

/**
 * Yields the bytes of a host file.
 *
 * @param path host file
 * @param expected size it had when the filesystem was planned
 * @throws Error when the file is shorter or longer than expected
 */
export async function* hostFileChunks(path: string, expected: number): AsyncGenerator<Uint8Array> {
  if (expected < CHUNK) {
    // One synchronous read: a tree of small files costs an event-loop round trip per async call.
    const data = Deno.readFileSync(path);
    if (data.length !== expected) {
      throw new Error(`Cannot add "${path}" to the filesystem: it changed while being read`);
    }
    if (data.length > 0) yield data;
    return;
  }
  const file = await Deno.open(path);
  try {
    let total = 0;
    while (true) {
      // One byte more than what is left, so that growth is noticed without another read.
      const buf = new Uint8Array(Math.min(CHUNK, expected - total + 1));
      const n = await file.read(buf);
      if (n === null) break;
      total += n;
      if (total > expected) break;
      yield buf.subarray(0, n);
    }
    if (total !== expected) throw new Error(`Cannot add "${path}" to the filesystem: it changed while being read`);
  } finally {
    file.close();
  }
}
