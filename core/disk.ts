/**
 * Sparse disks between the pipeline, the CLI and the format plugins: cutting a {@linkcode DiskSource} into
 * non-zero clusters, sources from readers and streams, writing an image file atomically, and opening an
 * image whatever its format (probed from its content).
 *
 * No `node:` imports: `osv run` loads this.
 *
 * @module
 */

import type {
  DiskExtent,
  DiskReader,
  DiskSource,
  ImageFormatProvider,
  ImageOutput,
  ProviderContext,
} from "./providers.ts";
import type { PluginRegistry, Registered } from "./registry.ts";

/** One cluster of a disk that holds at least one non-zero byte. */
export interface DataCluster {
  /** Cluster number (byte offset / cluster size). */
  index: number;
  /** Exactly the cluster size bytes (zero-padded past the end of the disk). */
  data: Uint8Array;
}

/**
 * Whether every byte is zero.
 *
 * @param bytes the bytes
 * @returns true when all are zero
 */
export function isZero(bytes: Uint8Array): boolean {
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0) return false;
    i = words.length * 4;
  }
  for (; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Cuts a sparse disk into clusters and yields those holding non-zero bytes, in increasing order.
 *
 * @param disk the disk
 * @param clusterSize cluster size in bytes
 * @returns the non-zero clusters
 * @throws RangeError when the extents are out of order, overlap or extend past the disk's size
 */
export async function* dataClusters(disk: DiskSource, clusterSize: number): AsyncGenerator<DataCluster> {
  let current = -1;
  let buffer: Uint8Array | undefined;
  let end = 0;
  for await (const extent of disk.extents()) {
    checkExtent(extent, end, disk.size);
    end = extent.offset + extent.data.length;
    let at = 0;
    while (at < extent.data.length) {
      const position = extent.offset + at;
      const index = Math.floor(position / clusterSize);
      const within = position - index * clusterSize;
      const take = Math.min(clusterSize - within, extent.data.length - at);
      const piece = extent.data.subarray(at, at + take);
      at += take;
      if (index !== current) {
        if (buffer && !isZero(buffer)) yield { index: current, data: buffer };
        current = index;
        buffer = undefined;
      }
      if (take === clusterSize) {
        buffer = piece; // a whole cluster: no copy
      } else {
        buffer ??= new Uint8Array(clusterSize);
        buffer.set(piece, within);
      }
    }
  }
  if (buffer && !isZero(buffer)) yield { index: current, data: buffer };
}

function checkExtent(extent: DiskExtent, previousEnd: number, size: number): void {
  if (!Number.isSafeInteger(extent.offset) || extent.offset < previousEnd) {
    throw new RangeError(`Disk extent at ${extent.offset} is out of order or overlaps the previous one`);
  }
  if (extent.offset + extent.data.length > size) {
    throw new RangeError(
      `Disk extent at ${extent.offset} (${extent.data.length} bytes) extends past the disk's ${size} bytes`,
    );
  }
}

/**
 * A sparse source reading the allocated ranges of a disk reader (for converting an image).
 *
 * @param reader the disk
 * @param chunk bytes per read (default 1 MiB)
 * @returns the source
 */
export function readerSource(reader: DiskReader, chunk = 1 << 20): DiskSource {
  return {
    size: reader.size,
    async *extents() {
      for await (const range of reader.allocated()) {
        for (let done = 0; done < range.length;) {
          const data = await reader.read(range.offset + done, Math.min(chunk, range.length - done));
          if (data.length === 0) break;
          yield { offset: range.offset + done, data };
          done += data.length;
        }
      }
    },
  };
}

/**
 * A source from a stream of the whole disk, byte after byte (zeros in it are found by the writers).
 *
 * @param stream exactly `size` bytes
 * @param size the disk size
 * @returns the source
 */
export function streamSource(stream: ReadableStream<Uint8Array>, size: number): DiskSource {
  return {
    size,
    async *extents() {
      let offset = 0;
      for await (const data of stream) {
        yield { offset, data };
        offset += data.length;
      }
      if (offset !== size) throw new RangeError(`Disk stream has ${offset} bytes, expected ${size}`);
    },
  };
}

/**
 * An {@linkcode ImageOutput} over an open file.
 *
 * @param file the file (opened for writing, empty)
 * @param name its base name
 * @returns the output
 */
export function fileOutput(file: Deno.FsFile, name: string): ImageOutput {
  // Synchronous writes that seek only when the offset jumps: an image is written as thousands of
  // clusters, and each async call would wait for an event-loop round trip.
  let position = 0;
  return {
    name,
    write(offset, bytes) {
      if (offset !== position) file.seekSync(offset, Deno.SeekMode.Start);
      for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
      position = offset + bytes.length;
      return Promise.resolve();
    },
    truncate: (size) => file.truncate(size),
  };
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Writes a disk as an image file: into a temporary file beside `path`, renamed when complete.
 *
 * @param format the format
 * @param options the disk, the output path and the provider context
 * @returns the size of the file written
 */
export async function writeImageFile(
  format: ImageFormatProvider,
  options: { disk: DiskSource; path: string; ctx: ProviderContext },
): Promise<number> {
  const { path } = options;
  const slash = path.lastIndexOf("/");
  const temporary = `${slash >= 0 ? path.slice(0, slash + 1) : ""}.${baseName(path)}.tmp-${Deno.pid}`;
  try {
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    try {
      await format.write(options.disk, fileOutput(file, baseName(path)), options.ctx);
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
  } catch (err) {
    await Deno.remove(temporary).catch(() => {});
    throw err;
  }
  return (await Deno.stat(path)).size;
}

/** File name extension without the dot (`""` when none). */
export function extensionOf(path: string): string {
  const name = baseName(path);
  return name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
}

/**
 * The format whose extensions include `path`'s.
 *
 * @param registry the plugins
 * @param path a file name
 * @returns the format, or undefined
 */
export function formatForExtension(
  registry: PluginRegistry,
  path: string,
): Registered<ImageFormatProvider> | undefined {
  const extension = extensionOf(path);
  return registry.all("format").find((f) => f.provider.extensions.includes(extension));
}

function readHead(path: string, verb: string): Uint8Array {
  try {
    const file = Deno.openSync(path, { read: true });
    try {
      const head = new Uint8Array(4096);
      let got = 0;
      while (got < head.length) {
        const n = file.readSync(head.subarray(got));
        if (n === null) break;
        got += n;
      }
      return head.subarray(0, got);
    } finally {
      file.close();
    }
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "no such file" : err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot ${verb} "${path}": ${why}`, { cause: err });
  }
}

/**
 * The format of an image file, probed from its first bytes; files no format recognises are raw.
 *
 * @param registry the plugins
 * @param path the file
 * @param verb for messages: `Cannot <verb> "<path>": ...`
 * @returns the format
 * @throws Error when the file cannot be read
 */
export function probeFormat(registry: PluginRegistry, path: string, verb: string): Registered<ImageFormatProvider> {
  const head = readHead(path, verb);
  const formats = registry.all("format");
  const probed = formats.find((f) => f.provider.probe?.(head));
  if (probed) return probed;
  // Unknown content: raw (its reader, or the osv header reader, explains what is wrong).
  return formats.find((f) => f.provider.name === "raw") ?? registry.get("format", "raw");
}

/**
 * Opens an image of any registered format.
 *
 * @param registry the plugins
 * @param path the file
 * @param verb for messages
 * @returns the format and the open disk (close it)
 */
export async function openImage(
  registry: PluginRegistry,
  path: string,
  verb: string,
): Promise<{ format: Registered<ImageFormatProvider>; disk: DiskReader }> {
  const format = probeFormat(registry, path, verb);
  const disk = await format.provider.open(path, format.ctx);
  return { format, disk };
}
