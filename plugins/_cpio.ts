/**
 * A streaming writer of cpio "newc" archives (the format Linux initramfs uses), deterministic:
 * inode numbers by position, mtime 0 (a file's own `mtime` when the manifest gives one), uid/gid 0, entries
 * in manifest sort order (directories first).
 *
 * Names are stored relative to the root (`etc/motd`), as `cpio -i` expects.
 *
 * @module
 */

import type { FilesystemImage, ImageFile, Manifest, ManifestEntry } from "../core/api.ts";
import { sortedEntries } from "../core/manifest.ts";
import { hostFileChunks } from "./_host_file.ts";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const TRAILER = "TRAILER!!!";
const HEADER_SIZE = 110;
const encoder = new TextEncoder();

interface PlannedEntry {
  name: string;
  mode: number;
  nlink: number;
  size: number;
  mtime: number;
  entry: ManifestEntry;
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** Files at least this big get their data page-aligned in the archive, so the kernel can map them in place. */
export const ALIGN_FILES_FROM = 16 << 10;
const PAGE = 4096;

/**
 * The NUL padding after a name that puts the entry's data on a page boundary, when it should be.
 * Readers take the name up to its first NUL, so the extra NULs are invisible to them (GNU cpio too).
 */
function alignPadding(offset: number, nameLength: number, e: { mode: number; size: number }): number {
  if ((e.mode & 0o170000) !== S_IFREG || e.size < ALIGN_FILES_FROM) return 0;
  const dataAt = offset + HEADER_SIZE + nameLength + 1;
  return (PAGE - (dataAt % PAGE)) % PAGE;
}

function header(
  ino: number,
  e: { name: string; mode: number; nlink: number; size: number; mtime?: number },
  offset = 0,
): Uint8Array {
  const plain = encoder.encode(e.name);
  const name = new Uint8Array(plain.length + 1 + alignPadding(offset, plain.length, e));
  name.set(plain);
  const fields = [ino, e.mode, 0, 0, e.nlink, e.mtime ?? 0, e.size, 0, 0, 0, 0, name.length, 0];
  const head = encoder.encode("070701" + fields.map(hex8).join(""));
  const out = new Uint8Array(HEADER_SIZE + name.length + pad4(HEADER_SIZE + name.length));
  out.set(head, 0);
  out.set(name, HEADER_SIZE);
  return out;
}

async function plan(manifest: Manifest): Promise<PlannedEntry[]> {
  const planned: PlannedEntry[] = [];
  for (const [path, entry] of sortedEntries(manifest)) {
    const name = path.slice(1);
    switch (entry.kind) {
      case "dir":
        planned.push({ name, mode: S_IFDIR | (entry.mode & 0o7777), nlink: 2, size: 0, mtime: 0, entry });
        break;
      case "symlink": {
        const size = encoder.encode(entry.target).length;
        planned.push({ name, mode: S_IFLNK | 0o777, nlink: 1, size, mtime: 0, entry });
        break;
      }
      case "file": {
        if (
          entry.mtime !== undefined && !(Number.isInteger(entry.mtime) && entry.mtime >= 0 && entry.mtime < 2 ** 32)
        ) {
          throw new RangeError(
            `Cannot add "${path}" to the filesystem: mtime ${entry.mtime} is not a time cpio can store`,
          );
        }
        const size = entry.bytes !== undefined ? entry.bytes.length : await hostFileSize(entry.hostPath, path);
        planned.push({ name, mode: S_IFREG | (entry.mode & 0o7777), nlink: 1, size, mtime: entry.mtime ?? 0, entry });
      }
    }
  }
  return planned;
}

async function hostFileSize(hostPath: string, guestPath: string): Promise<number> {
  const stat = await Deno.stat(hostPath).catch((err: unknown) => {
    throw new Error(`Cannot add "${guestPath}" to the filesystem: cannot read "${hostPath}"`, { cause: err });
  });
  if (!stat.isFile) throw new Error(`Cannot add "${guestPath}" to the filesystem: "${hostPath}" is not a file`);
  return stat.size;
}

async function* body(planned: PlannedEntry[]): AsyncGenerator<Uint8Array> {
  let ino = 0, offset = 0;
  for (const p of planned) {
    const head = header(++ino, p, offset);
    offset += head.length + p.size + pad4(p.size);
    yield head;
    const entry = p.entry;
    if (entry.kind === "symlink") yield encoder.encode(entry.target);
    if (entry.kind === "file") {
      if (entry.bytes !== undefined) yield entry.bytes;
      else yield* hostFileChunks(entry.hostPath, p.size);
    }
    if (pad4(p.size) > 0) yield new Uint8Array(pad4(p.size));
  }
  yield header(0, { name: TRAILER, mode: 0, nlink: 1, size: 0 });
}

/**
 * Plans a newc archive of the manifest (stats host files) and returns its exact size and a lazy stream.
 *
 * @param manifest files to pack
 * @returns size and stream of the archive
 * @throws Error when a host file is missing or not a regular file
 */
export async function cpioArchive(manifest: Manifest): Promise<FilesystemImage> {
  const planned = await plan(manifest);
  let size = 0;
  for (const p of planned) {
    size += header(0, p, size).length + p.size + pad4(p.size);
  }
  size += header(0, { name: TRAILER, mode: 0, nlink: 1, size: 0 }).length;
  return { size, stream: ReadableStream.from(body(planned)) };
}

/**
 * Lists the entries of a cpio "newc" archive.
 *
 * @param bytes the archive
 * @returns the entries, in archive order, without the trailer
 * @throws Error when the archive is malformed
 */
export function listCpio(bytes: Uint8Array): ImageFile[] {
  const decoder = new TextDecoder();
  const fail = (why: string): never => {
    throw new Error(why);
  };
  const files: ImageFile[] = [];
  let at = 0;
  for (;;) {
    if (at + 110 > bytes.length) fail(`cpio archive truncated at ${at}`);
    const magic = decoder.decode(bytes.subarray(at, at + 6));
    if (magic !== "070701" && magic !== "070702") fail(`bad cpio magic at ${at}`);
    const field = (i: number) => {
      const text = decoder.decode(bytes.subarray(at + 6 + i * 8, at + 14 + i * 8));
      if (!/^[0-9a-fA-F]{8}$/.test(text)) fail(`bad cpio header at ${at}`);
      return parseInt(text, 16);
    };
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameEnd = at + 110 + nameSize;
    if (nameSize < 1 || nameEnd > bytes.length) fail(`cpio name past the end at ${at}`);
    // The name ends at its first NUL: the writer may pad it to page-align the file's data.
    const rawName = bytes.subarray(at + 110, nameEnd - 1);
    const nul = rawName.indexOf(0);
    const path = decoder.decode(nul < 0 ? rawName : rawName.subarray(0, nul));
    const dataAt = Math.ceil(nameEnd / 4) * 4;
    if (dataAt + size > bytes.length) fail(`cpio data of "${path}" past the end`);
    if (path === "TRAILER!!!") return files;
    const kind = mode & 0o170000;
    files.push({
      path: "/" + path.replace(/^\.?\//, ""),
      type: kind === 0o100000 ? "file" : kind === 0o040000 ? "dir" : kind === 0o120000 ? "symlink" : "other",
      mode: mode & 0o7777,
      size,
    });
    at = Math.ceil((dataAt + size) / 4) * 4;
  }
}
