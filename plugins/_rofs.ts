/**
 * ROFS, osv's read-only filesystem: the on-disk format, a streaming deterministic writer and a
 * validating reader. The kernel's driver is `kernel/fs/rofs.c`; the format is specified once, in
 * `kernel/fs/rofs_format.h`, and mirrored here. All integers little-endian.
 *
 * ```
 * 0      superblock (80 bytes, block 0 zero-padded to 4096)
 * 4096   inode table: inodeCount x 32 bytes; inode 0 is the root directory
 *        dirent table: direntCount x 12 bytes; a directory's entries are contiguous, sorted by name bytes
 *        strings: names and symlink targets, each NUL-terminated
 * D      file data (D block-aligned); files of 4096 bytes or more start on a block boundary
 * ```
 *
 * Everything the kernel needs to resolve paths is in one contiguous metadata region it reads at mount
 * with one request; lookups are binary searches; file data is read on demand.
 *
 * @module
 */

import type { FilesystemImage, ImageFile, Manifest, ManifestEntry, ReadAt } from "../core/api.ts";
import { sortedEntries } from "../core/manifest.ts";
import { hostFileChunks } from "./_host_file.ts";

export const ROFS_MAGIC = "OSVROFS\0";
export const ROFS_VERSION = 1;
export const ROFS_BLOCK = 4096;
export const SUPERBLOCK_SIZE = 80;
export const INODE_SIZE = 32;
export const DIRENT_SIZE = 12;
const NAME_MAX = 255;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** The superblock's fields. */
export interface RofsSuperblock {
  version: number;
  blockSize: number;
  inodeCount: number;
  direntCount: number;
  inodeTable: number;
  direntTable: number;
  strings: number;
  stringsSize: number;
  dataOffset: number;
  totalSize: number;
}

/** One inode: `where` is the data offset (file), first dirent (directory) or string offset (symlink). */
export interface RofsInode {
  mode: number;
  count: number;
  size: number;
  where: number;
  mtime: number;
}

interface PlannedInode extends RofsInode {
  path: string;
  entry?: ManifestEntry;
  children: number[];
  nameBytes: Uint8Array;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), as zlib computes it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}

function fileSize(entry: ManifestEntry & { kind: "file" }, guestPath: string): number {
  if (entry.bytes !== undefined) return entry.bytes.length;
  let stat: Deno.FileInfo;
  try {
    stat = Deno.statSync(entry.hostPath); // sync: thousands of small files would each wait for the event loop
  } catch (err) {
    throw new Error(`Cannot add "${guestPath}" to the filesystem: cannot read "${entry.hostPath}"`, { cause: err });
  }
  if (!stat.isFile) throw new Error(`Cannot add "${guestPath}" to the filesystem: "${entry.hostPath}" is not a file`);
  return stat.size;
}

/** Lays out the filesystem: inodes (root first, then manifest order), dirents, strings, data offsets. */
function plan(manifest: Manifest): { inodes: PlannedInode[]; superblock: RofsSuperblock } {
  const inodes: PlannedInode[] = [{
    path: "/",
    mode: S_IFDIR | 0o755,
    count: 0,
    size: 0,
    where: 0,
    mtime: 0,
    children: [],
    nameBytes: new Uint8Array(),
  }];
  const byPath = new Map<string, number>([["/", 0]]);
  for (const [path, entry] of sortedEntries(manifest)) {
    const slash = path.lastIndexOf("/");
    const parent = byPath.get(slash === 0 ? "/" : path.slice(0, slash));
    if (parent === undefined) throw new Error(`ROFS: "${path}" has no parent directory in the manifest`);
    const nameBytes = encoder.encode(path.slice(slash + 1));
    if (nameBytes.length > NAME_MAX) throw new Error(`Cannot add "${path}": its name is longer than ${NAME_MAX} bytes`);
    const index = inodes.length;
    const inode: PlannedInode = {
      path,
      entry,
      mode: 0,
      count: 0,
      size: 0,
      where: 0,
      mtime: 0,
      children: [],
      nameBytes,
    };
    if (entry.kind === "dir") inode.mode = S_IFDIR | (entry.mode & 0o7777);
    else if (entry.kind === "symlink") inode.mode = S_IFLNK | 0o777;
    else {
      inode.mode = S_IFREG | (entry.mode & 0o7777);
      inode.mtime = entry.mtime ?? 0;
      if (!Number.isSafeInteger(inode.mtime) || inode.mtime < 0) {
        throw new RangeError(
          `Cannot add "${path}" to the filesystem: mtime ${inode.mtime} is not a time ROFS can store`,
        );
      }
    }
    inodes.push(inode);
    byPath.set(path, index);
    inodes[parent]?.children.push(index);
  }

  // Dirents: each directory's children contiguous, sorted by name bytes (the kernel binary-searches).
  let direntCount = 0, stringsSize = 0;
  for (const inode of inodes) {
    if ((inode.mode & S_IFMT) !== S_IFDIR) continue;
    inode.children.sort((a, b) => compareBytes(inodes[a]!.nameBytes, inodes[b]!.nameBytes));
    inode.where = direntCount;
    inode.count = inode.children.length;
    direntCount += inode.children.length;
  }
  for (const inode of inodes.slice(1)) stringsSize += inode.nameBytes.length + 1;
  for (const inode of inodes) {
    if (inode.entry?.kind !== "symlink") continue;
    const target = encoder.encode(inode.entry.target);
    inode.where = stringsSize;
    inode.size = target.length;
    stringsSize += target.length + 1;
  }

  const inodeTable = ROFS_BLOCK;
  const direntTable = inodeTable + inodes.length * INODE_SIZE;
  const strings = direntTable + direntCount * DIRENT_SIZE;
  const dataOffset = alignUp(strings + stringsSize, ROFS_BLOCK);
  let at = dataOffset;
  for (const inode of inodes) {
    if (inode.entry?.kind !== "file") continue;
    inode.size = fileSize(inode.entry, inode.path);
    if (inode.size === 0) continue;
    if (inode.size >= ROFS_BLOCK) at = alignUp(at, ROFS_BLOCK);
    inode.where = at;
    at += inode.size;
  }
  return {
    inodes,
    superblock: {
      version: ROFS_VERSION,
      blockSize: ROFS_BLOCK,
      inodeCount: inodes.length,
      direntCount,
      inodeTable,
      direntTable,
      strings,
      stringsSize,
      dataOffset,
      totalSize: alignUp(at, ROFS_BLOCK),
    },
  };
}

/** Encodes the superblock (with its CRC-32) into the first block. */
export function encodeSuperblock(sb: RofsSuperblock): Uint8Array {
  const block = new Uint8Array(ROFS_BLOCK);
  const view = new DataView(block.buffer);
  block.set(encoder.encode(ROFS_MAGIC));
  view.setUint32(8, sb.version, true);
  view.setUint32(12, sb.blockSize, true);
  view.setUint32(16, sb.inodeCount, true);
  view.setUint32(20, sb.direntCount, true);
  view.setBigUint64(24, BigInt(sb.inodeTable), true);
  view.setBigUint64(32, BigInt(sb.direntTable), true);
  view.setBigUint64(40, BigInt(sb.strings), true);
  view.setBigUint64(48, BigInt(sb.stringsSize), true);
  view.setBigUint64(56, BigInt(sb.dataOffset), true);
  view.setBigUint64(64, BigInt(sb.totalSize), true);
  view.setUint32(76, crc32(block.subarray(0, 76)), true);
  return block;
}

/** The metadata region after the superblock block: inodes, dirents, strings, padding to the data. */
function encodeMetadata(inodes: PlannedInode[], sb: RofsSuperblock): Uint8Array {
  const meta = new Uint8Array(sb.dataOffset - sb.inodeTable);
  const view = new DataView(meta.buffer);
  inodes.forEach((inode, i) => {
    const at = i * INODE_SIZE;
    view.setUint32(at, inode.mode, true);
    view.setUint32(at + 4, inode.count, true);
    view.setBigUint64(at + 8, BigInt(inode.size), true);
    view.setBigUint64(at + 16, BigInt(inode.where), true);
    view.setBigUint64(at + 24, BigInt(inode.mtime), true);
  });
  // Names in inode order (what `plan` counted), then symlink targets at the offsets it assigned.
  const nameAt = new Map<number, number>();
  let s = 0;
  const strings = sb.strings - sb.inodeTable;
  inodes.forEach((inode, i) => {
    if (i === 0) return;
    nameAt.set(i, s);
    meta.set(inode.nameBytes, strings + s);
    s += inode.nameBytes.length + 1;
  });
  for (const inode of inodes) {
    if (inode.entry?.kind === "symlink") meta.set(encoder.encode(inode.entry.target), strings + inode.where);
  }
  let d = sb.direntTable - sb.inodeTable;
  for (const inode of inodes) {
    if ((inode.mode & S_IFMT) !== S_IFDIR) continue;
    for (const child of inode.children) {
      view.setUint32(d, child, true);
      view.setUint32(d + 4, nameAt.get(child) as number, true);
      view.setUint32(d + 8, inodes[child]!.nameBytes.length, true);
      d += DIRENT_SIZE;
    }
  }
  return meta;
}

async function* body(inodes: PlannedInode[], sb: RofsSuperblock): AsyncGenerator<Uint8Array> {
  yield encodeSuperblock(sb);
  yield encodeMetadata(inodes, sb);
  let at = sb.dataOffset;
  for (const inode of inodes) {
    const entry = inode.entry;
    if (entry?.kind !== "file" || inode.size === 0) continue;
    if (inode.where > at) yield new Uint8Array(inode.where - at);
    if (entry.bytes !== undefined) yield entry.bytes;
    else yield* hostFileChunks(entry.hostPath, inode.size);
    at = inode.where + inode.size;
  }
  if (sb.totalSize > at) yield new Uint8Array(sb.totalSize - at);
}

/**
 * Plans a ROFS filesystem of the manifest (stats host files) and returns its exact size and a lazy
 * stream. The same manifest and files give the same bytes.
 *
 * @param manifest files to pack
 * @returns size and stream of the filesystem
 * @throws Error when a host file is missing or not a regular file, or a name is too long
 */
export function rofsImage(manifest: Manifest): Promise<FilesystemImage> {
  try {
    const { inodes, superblock } = plan(manifest);
    return Promise.resolve({ size: superblock.totalSize, stream: ReadableStream.from(body(inodes, superblock)) });
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Decodes and checks a superblock.
 *
 * @param block the first bytes of the filesystem (at least {@linkcode SUPERBLOCK_SIZE})
 * @param fsSize bytes available to the filesystem
 * @returns the superblock
 * @throws Error saying what is wrong
 */
export function decodeSuperblock(block: Uint8Array, fsSize: number): RofsSuperblock {
  if (block.length < SUPERBLOCK_SIZE) throw new Error("ROFS superblock truncated");
  if (decoder.decode(block.subarray(0, 8)) !== ROFS_MAGIC) throw new Error("bad ROFS magic");
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  if (view.getUint32(76, true) !== crc32(block.subarray(0, 76))) throw new Error("ROFS superblock checksum mismatch");
  const sb: RofsSuperblock = {
    version: view.getUint32(8, true),
    blockSize: view.getUint32(12, true),
    inodeCount: view.getUint32(16, true),
    direntCount: view.getUint32(20, true),
    inodeTable: u64(24),
    direntTable: u64(32),
    strings: u64(40),
    stringsSize: u64(48),
    dataOffset: u64(56),
    totalSize: u64(64),
  };
  if (sb.version !== ROFS_VERSION) throw new Error(`unsupported ROFS version ${sb.version}`);
  if (sb.blockSize !== ROFS_BLOCK) throw new Error(`unsupported ROFS block size ${sb.blockSize}`);
  if (sb.totalSize > fsSize) throw new Error(`ROFS is ${sb.totalSize} bytes but only ${fsSize} are there (truncated)`);
  const layoutOk = sb.inodeCount >= 1 && sb.inodeTable >= SUPERBLOCK_SIZE &&
    sb.direntTable === sb.inodeTable + sb.inodeCount * INODE_SIZE &&
    sb.strings === sb.direntTable + sb.direntCount * DIRENT_SIZE &&
    sb.strings + sb.stringsSize <= sb.dataOffset && sb.dataOffset <= sb.totalSize;
  if (!layoutOk) throw new Error("ROFS tables overlap or lie past the end");
  return sb;
}

/**
 * Lists every path of a ROFS filesystem, checking its structure as the kernel does (entries in range,
 * sorted names, no directory reachable twice).
 *
 * @param read reads bytes of the filesystem
 * @param fsSize bytes available to it
 * @returns the entries, depth first, directories before their contents
 * @throws Error saying what is wrong
 */
export async function listRofs(read: ReadAt, fsSize: number): Promise<ImageFile[]> {
  const sb = decodeSuperblock(await read(0, SUPERBLOCK_SIZE), fsSize);
  const meta = await read(sb.inodeTable, sb.strings + sb.stringsSize - sb.inodeTable);
  const view = new DataView(meta.buffer, meta.byteOffset, meta.byteLength);
  const inode = (i: number): RofsInode => {
    const at = i * INODE_SIZE;
    return {
      mode: view.getUint32(at, true),
      count: view.getUint32(at + 4, true),
      size: Number(view.getBigUint64(at + 8, true)),
      where: Number(view.getBigUint64(at + 16, true)),
      mtime: Number(view.getBigUint64(at + 24, true)),
    };
  };
  const stringsAt = sb.strings - sb.inodeTable;
  const seen = new Set<number>([0]);
  const files: ImageFile[] = [];
  const walk = (dirIndex: number, prefix: string) => {
    const dir = inode(dirIndex);
    if (dir.where + dir.count > sb.direntCount) {
      throw new Error(`ROFS directory "${prefix || "/"}" runs past the dirent table`);
    }
    let previous: Uint8Array | undefined;
    for (let e = dir.where; e < dir.where + dir.count; e++) {
      const at = sb.direntTable - sb.inodeTable + e * DIRENT_SIZE;
      const child = view.getUint32(at, true), nameOff = view.getUint32(at + 4, true);
      const nameLen = view.getUint32(at + 8, true);
      if (child >= sb.inodeCount) throw new Error(`ROFS entry ${e} points at inode ${child} past the table`);
      if (nameLen === 0 || nameLen > NAME_MAX || nameOff + nameLen >= sb.stringsSize) {
        throw new Error(`ROFS entry ${e} has a bad name`);
      }
      const name = meta.subarray(stringsAt + nameOff, stringsAt + nameOff + nameLen);
      if (previous && compareBytes(previous, name) >= 0) {
        throw new Error(`ROFS directory "${prefix || "/"}" is not sorted`);
      }
      previous = name;
      const node = inode(child);
      const path = `${prefix}/${decoder.decode(name)}`;
      const kind = node.mode & S_IFMT;
      if (kind === S_IFDIR) {
        if (seen.has(child)) throw new Error(`ROFS directory loop at "${path}"`);
        seen.add(child);
      } else if (kind === S_IFREG && node.size > 0 && node.where + node.size > sb.totalSize) {
        throw new Error(`ROFS file "${path}" lies past the end of the filesystem`);
      } else if (kind === S_IFLNK && node.where + node.size >= sb.stringsSize) {
        throw new Error(`ROFS symlink "${path}" has a bad target`);
      }
      files.push({
        path,
        type: kind === S_IFREG ? "file" : kind === S_IFDIR ? "dir" : kind === S_IFLNK ? "symlink" : "other",
        mode: node.mode & 0o7777,
        size: kind === S_IFDIR ? 0 : node.size,
      });
      if (kind === S_IFDIR) walk(child, path);
    }
  };
  walk(0, "");
  return files;
}
