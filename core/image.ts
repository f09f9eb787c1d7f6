/**
 * The osv image layout (design.md §4): one file with a boot sector, a header, the kernel and the
 * filesystem. Writer (plan + stream) and reader (validating). All integers little-endian.
 *
 * ```
 * 0       boot sector (512 bytes, zeros for now; later a BIOS loader)
 * 512     header: "OSVIMAGE" u32 version u32 headerSize u64 kernelOffset u64 kernelSize
 *                 u64 fsOffset u64 fsSize char fsType[16] char kernelHash[64]      (128 bytes)
 * 640     command line area (4096 bytes, NUL-terminated, editable in place)
 * ...     zero padding
 * K       kernel ELF (K 4 KiB-aligned)
 * F       filesystem (F 4 KiB-aligned after the kernel)
 * end     rounded up to 512 bytes
 * ```
 *
 * @module
 */

import type { DiskExtent, DiskReader, DiskSource } from "./providers.ts";

/** The 8 magic bytes at {@linkcode HEADER_OFFSET}. */
export const IMAGE_MAGIC = "OSVIMAGE";
/** Layout version this toolchain writes and reads. */
export const IMAGE_VERSION = 1;
/** Where the header starts (after the boot sector). */
export const HEADER_OFFSET = 512;
/** Bytes of the fixed header fields before the command line area. */
export const HEADER_FIXED_SIZE = 128;
/** Bytes reserved for the command line (NUL included). */
export const CMDLINE_AREA_SIZE = 4096;
/** Alignment of the kernel and the filesystem. */
export const PAYLOAD_ALIGN = 4096;
/** Size of the fs type field. */
export const FS_TYPE_SIZE = 16;
/** Size of the kernel hash field. */
export const KERNEL_HASH_SIZE = 64;

/** The decoded header. */
export interface ImageHeader {
  version: number;
  headerSize: number;
  kernelOffset: number;
  kernelSize: number;
  fsOffset: number;
  fsSize: number;
  fsType: string;
  kernelHash: string;
  cmdline: string;
}

/** The image a header describes, with its total size. */
export interface ImagePlan {
  header: ImageHeader;
  totalSize: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Computes the layout of an image.
 *
 * @param parts sizes and identification of the payloads
 * @returns header and total size
 * @throws RangeError when a string does not fit its field
 */
export function planImage(
  parts: { kernelSize: number; fsSize: number; fsType: string; kernelHash: string; cmdline: string },
): ImagePlan {
  if (encoder.encode(parts.fsType).length >= FS_TYPE_SIZE) {
    throw new RangeError(`Filesystem type "${parts.fsType}" is longer than ${FS_TYPE_SIZE - 1} bytes`);
  }
  if (encoder.encode(parts.kernelHash).length > KERNEL_HASH_SIZE) {
    throw new RangeError(`Kernel hash "${parts.kernelHash}" is longer than ${KERNEL_HASH_SIZE} bytes`);
  }
  if (encoder.encode(parts.cmdline).length >= CMDLINE_AREA_SIZE) {
    throw new RangeError(`Command line is longer than ${CMDLINE_AREA_SIZE - 1} bytes`);
  }
  const headerSize = HEADER_FIXED_SIZE + CMDLINE_AREA_SIZE;
  const kernelOffset = alignUp(HEADER_OFFSET + headerSize, PAYLOAD_ALIGN);
  const fsOffset = alignUp(kernelOffset + parts.kernelSize, PAYLOAD_ALIGN);
  return {
    header: {
      version: IMAGE_VERSION,
      headerSize,
      kernelOffset,
      kernelSize: parts.kernelSize,
      fsOffset,
      fsSize: parts.fsSize,
      fsType: parts.fsType,
      kernelHash: parts.kernelHash,
      cmdline: parts.cmdline,
    },
    totalSize: alignUp(fsOffset + parts.fsSize, 512),
  };
}

function putString(bytes: Uint8Array, at: number, size: number, value: string): void {
  bytes.set(encoder.encode(value).subarray(0, size), at);
}

/**
 * Encodes everything before the kernel: boot sector, header, command line area and padding.
 *
 * @param header the header (from {@linkcode planImage})
 * @returns `header.kernelOffset` bytes
 */
export function encodeHeaderBlock(header: ImageHeader): Uint8Array {
  const block = new Uint8Array(header.kernelOffset);
  const view = new DataView(block.buffer);
  const h = HEADER_OFFSET;
  putString(block, h, 8, IMAGE_MAGIC);
  view.setUint32(h + 8, header.version, true);
  view.setUint32(h + 12, header.headerSize, true);
  view.setBigUint64(h + 16, BigInt(header.kernelOffset), true);
  view.setBigUint64(h + 24, BigInt(header.kernelSize), true);
  view.setBigUint64(h + 32, BigInt(header.fsOffset), true);
  view.setBigUint64(h + 40, BigInt(header.fsSize), true);
  putString(block, h + 48, FS_TYPE_SIZE, header.fsType);
  putString(block, h + 64, KERNEL_HASH_SIZE, header.kernelHash);
  block.set(encodeCmdlineArea(header.cmdline), h + HEADER_FIXED_SIZE);
  return block;
}

/**
 * The command line area's bytes (for writing it in place into an existing image).
 *
 * @param cmdline the command line
 * @returns {@linkcode CMDLINE_AREA_SIZE} bytes, NUL-terminated and padded
 * @throws RangeError when it does not fit
 */
export function encodeCmdlineArea(cmdline: string): Uint8Array {
  const bytes = encoder.encode(cmdline);
  if (bytes.length >= CMDLINE_AREA_SIZE) {
    throw new RangeError(`Command line is longer than ${CMDLINE_AREA_SIZE - 1} bytes`);
  }
  const area = new Uint8Array(CMDLINE_AREA_SIZE);
  area.set(bytes);
  return area;
}

/** Byte offset of the command line area in the image. */
export const CMDLINE_OFFSET = HEADER_OFFSET + HEADER_FIXED_SIZE;

/**
 * Streams a whole image: header block, kernel, filesystem, zero padding in between and at the end.
 *
 * @param plan the layout
 * @param payloads kernel and filesystem streams yielding exactly the planned sizes
 * @returns the image bytes
 */
export function assembleImage(
  plan: ImagePlan,
  payloads: { kernel: ReadableStream<Uint8Array>; fs: ReadableStream<Uint8Array> },
): ReadableStream<Uint8Array> {
  const { header, totalSize } = plan;
  async function* generate(): AsyncGenerator<Uint8Array> {
    yield encodeHeaderBlock(header);
    yield* exactly(payloads.kernel, header.kernelSize, "kernel");
    yield new Uint8Array(header.fsOffset - header.kernelOffset - header.kernelSize);
    yield* exactly(payloads.fs, header.fsSize, "filesystem");
    yield new Uint8Array(totalSize - header.fsOffset - header.fsSize);
  }
  return ReadableStream.from(generate());
}

/**
 * The image as a sparse disk: the header block, the kernel and the filesystem as extents, zeros between.
 * Streams the payloads (iterate once).
 *
 * @param plan the layout
 * @param payloads kernel and filesystem streams yielding exactly the planned sizes
 * @returns the disk
 */
export function imageSource(
  plan: ImagePlan,
  payloads: { kernel: ReadableStream<Uint8Array>; fs: ReadableStream<Uint8Array> },
): DiskSource {
  const { header, totalSize } = plan;
  async function* extents(): AsyncGenerator<DiskExtent> {
    yield { offset: 0, data: encodeHeaderBlock(header) };
    let offset = header.kernelOffset;
    for await (const data of exactly(payloads.kernel, header.kernelSize, "kernel")) {
      yield { offset, data };
      offset += data.length;
    }
    offset = header.fsOffset;
    for await (const data of exactly(payloads.fs, header.fsSize, "filesystem")) {
      yield { offset, data };
      offset += data.length;
    }
  }
  return { size: totalSize, extents };
}

async function* exactly(stream: ReadableStream<Uint8Array>, size: number, what: string): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > size) {
      throw new Error(`Cannot assemble the image: the ${what} is larger than its planned ${size} bytes`);
    }
    yield chunk;
  }
  if (total !== size) {
    throw new Error(`Cannot assemble the image: the ${what} has ${total} bytes, planned ${size}`);
  }
}

function readString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return decoder.decode(nul >= 0 ? bytes.subarray(0, nul) : bytes);
}

/**
 * Decodes and validates the header of an image.
 *
 * @param head the image's first bytes (at least up to the end of the header when the file is that long)
 * @param fileSize total size of the disk
 * @param name the image's name for messages
 * @returns the header
 * @throws Error `Cannot boot image "<name>": <what is wrong>`
 */
export function decodeImageHeader(head: Uint8Array, fileSize: number, name: string): ImageHeader {
  const fail = (why: string): never => {
    throw new Error(`Cannot boot image "${name}": ${why}`);
  };
  const h = HEADER_OFFSET;
  if (fileSize < h + 8 || head.length < h + 8) fail(`no osv header (the file has only ${fileSize} bytes)`);
  if (decoder.decode(head.subarray(h, h + 8)) !== IMAGE_MAGIC) fail("no osv header (bad magic)");
  if (head.length < h + HEADER_FIXED_SIZE) fail("truncated osv header");
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = view.getUint32(h + 8, true);
  if (version !== IMAGE_VERSION) fail(`unsupported image version ${version} (this osv reads version ${IMAGE_VERSION})`);
  const headerSize = view.getUint32(h + 12, true);
  if (headerSize < HEADER_FIXED_SIZE + CMDLINE_AREA_SIZE) fail(`bad header size ${headerSize}`);
  if (h + headerSize > fileSize || head.length < h + HEADER_FIXED_SIZE + CMDLINE_AREA_SIZE) {
    fail("truncated osv header");
  }
  const u64 = (at: number) => {
    const v = view.getBigUint64(at, true);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const kernelOffset = u64(h + 16);
  const kernelSize = u64(h + 24);
  const fsOffset = u64(h + 32);
  const fsSize = u64(h + 40);
  if (kernelSize === 0) fail("no kernel in the image header");
  const headerEnd = h + headerSize;
  if (kernelOffset < headerEnd) fail(`kernel offset ${kernelOffset} lies inside the header`);
  if (kernelOffset + kernelSize > fileSize) {
    fail(`kernel (offset ${kernelOffset}, size ${kernelSize}) extends past the end of the file (${fileSize} bytes)`);
  }
  if (fsOffset < headerEnd) fail(`filesystem offset ${fsOffset} lies inside the header`);
  if (fsOffset + fsSize > fileSize) {
    fail(`filesystem (offset ${fsOffset}, size ${fsSize}) extends past the end of the file (${fileSize} bytes)`);
  }
  if (fsOffset < kernelOffset + kernelSize && kernelOffset < fsOffset + fsSize) fail("kernel and filesystem overlap");
  const fsType = readString(head.subarray(h + 48, h + 48 + FS_TYPE_SIZE));
  if (fsType === "") fail("no filesystem type in the image header");
  const kernelHash = readString(head.subarray(h + 64, h + 64 + KERNEL_HASH_SIZE));
  const area = head.subarray(CMDLINE_OFFSET, CMDLINE_OFFSET + CMDLINE_AREA_SIZE);
  if (area.indexOf(0) < 0) fail("the command line is not NUL-terminated");
  return {
    version,
    headerSize,
    kernelOffset,
    kernelSize,
    fsOffset,
    fsSize,
    fsType,
    kernelHash,
    cmdline: readString(area),
  };
}

/**
 * Reads and validates the header of an opened image.
 *
 * @param disk the image's disk
 * @param name the image's name for messages
 * @returns the header
 * @throws Error `Cannot boot image "<name>": <what is wrong>`
 */
export async function readImageHeader(disk: DiskReader, name: string): Promise<ImageHeader> {
  const head = await disk.read(0, HEADER_OFFSET + HEADER_FIXED_SIZE + CMDLINE_AREA_SIZE);
  return decodeImageHeader(head, disk.size, name);
}

/**
 * Copies a byte range of a disk to a host file (kernel or filesystem extraction).
 *
 * @param disk source disk
 * @param range offset and size
 * @param path destination file (created or truncated)
 */
export async function extractRange(disk: DiskReader, range: { offset: number; size: number }, path: string) {
  // Sync writes: this runs before the hypervisor starts, and small sync writes beat the async round trips.
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    const chunk = 1 << 20;
    for (let done = 0; done < range.size;) {
      const bytes = await disk.read(range.offset + done, Math.min(chunk, range.size - done));
      if (bytes.length === 0) {
        throw new Error(`Cannot extract from the image: unexpected end at ${range.offset + done}`);
      }
      for (let w = 0; w < bytes.length;) w += file.writeSync(bytes.subarray(w));
      done += bytes.length;
    }
  } finally {
    file.close();
  }
}
