/**
 * glibc's `/etc/ld.so.cache` in its current binary format ("glibc-ld.so.cache1.1", written by ldconfig
 * since glibc 2.32 and read by ld.so): a reader for the host's cache and a writer for the guest's.
 *
 * Layout (little-endian): a 48-byte header (magic, version, entry count, string table length, flags,
 * extension offset), 24-byte entries (flags, key and value string offsets from the start of the file,
 * OS version, hwcap), then NUL-terminated strings and optional extensions (glibc-hwcaps names, the
 * generator string). ld.so binary-searches the entries, so they are sorted by {@linkcode compareLibraryNames},
 * largest first, as ldconfig writes them.
 *
 * @module
 */

/** One library in the cache. */
export interface LdCacheEntry {
  /** The name looked up (a soname such as `libc.so.6`). */
  name: string;
  /** The path ld.so opens. */
  path: string;
  /** Entry flags: the library's type and architecture ({@linkcode FLAGS_X86_64_LIBC6} for x86-64). */
  flags: number;
  /**
   * The glibc-hwcaps subdirectory (`x86-64-v3`) the entry is for, `null` for the baseline entry that any
   * x86-64 CPU can load.
   */
  hwcaps: string | null;
}

/** Flags of an x86-64 glibc library entry (FLAG_ELF_LIBC6 | FLAG_X8664_LIB64). */
export const FLAGS_X86_64_LIBC6 = 0x0303;

const MAGIC = "glibc-ld.so.cache";
const VERSION = "1.1";
const OLD_MAGIC = "ld.so-1.7.0";
const HEADER_SIZE = 48;
const ENTRY_SIZE = 24;
const OLD_HEADER_SIZE = 16;
const OLD_ENTRY_SIZE = 12;
const ENDIAN_MASK = 3;
const ENDIAN_UNSET = 0;
const ENDIAN_LITTLE = 2;
const EXTENSION_MAGIC = 0xeaa42174;
const EXTENSION_TAG_HWCAPS = 1;
const HWCAP_EXTENSION = 1n << 62n;
const HWCAP_INDEX_MASK = 0xffffffffn;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** A byte as C's (signed on x86-64) `char`, which is what glibc subtracts. */
function signed(byte: number): number {
  return byte > 127 ? byte - 256 : byte;
}

/**
 * glibc's `_dl_cache_libcmp`: compares library names with runs of digits compared as numbers
 * (`libfoo.so.10` after `libfoo.so.9`), a digit after any other character.
 *
 * @param a first name
 * @param b second name
 * @returns negative, zero or positive like a comparator
 * @example
 * ```ts
 * import { compareLibraryNames } from "./ldcache.ts";
 * if (compareLibraryNames("libfoo.so.10", "libfoo.so.9") <= 0) throw new Error();
 * ```
 */
export function compareLibraryNames(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let i = 0, j = 0;
  while (i < x.length) {
    const c = x[i]!;
    const d = y[j] ?? 0;
    if (isDigit(c)) {
      if (!isDigit(d)) return 1;
      let u = 0, v = 0;
      while (i < x.length && isDigit(x[i]!)) u = u * 10 + x[i++]! - 0x30;
      while (j < y.length && isDigit(y[j]!)) v = v * 10 + y[j++]! - 0x30;
      if (u !== v) return u - v;
    } else if (isDigit(d)) {
      return -1;
    } else if (c !== d) {
      return signed(c) - signed(d);
    } else {
      i++;
      j++;
    }
  }
  return 0 - signed(y[j] ?? 0);
}

function readString(bytes: Uint8Array, offset: number, what: string, path: string): string {
  if (offset >= bytes.length) throw new Error(`Cannot read "${path}": ${what} string offset ${offset} is past the end`);
  const end = bytes.indexOf(0, offset);
  if (end < 0) throw new Error(`Cannot read "${path}": ${what} string at ${offset} is not NUL-terminated`);
  return decoder.decode(bytes.subarray(offset, end));
}

/** Where the new-format cache starts: 0, or after the old-format part of a combined (pre-2.32) file. */
function newFormatStart(bytes: Uint8Array, path: string): number {
  if (decoder.decode(bytes.subarray(0, MAGIC.length)) === MAGIC) return 0;
  if (decoder.decode(bytes.subarray(0, OLD_MAGIC.length)) !== OLD_MAGIC) {
    throw new Error(`Cannot read "${path}": not an ld.so.cache file (bad magic)`);
  }
  if (bytes.length < OLD_HEADER_SIZE) throw new Error(`Cannot read "${path}": truncated header`);
  const count = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  // The new format follows the old entries, aligned like ldconfig's struct cache_file_new.
  const start = OLD_HEADER_SIZE + count * OLD_ENTRY_SIZE;
  const aligned = start + ((8 - (start % 8)) % 8);
  if (decoder.decode(bytes.subarray(aligned, aligned + MAGIC.length)) !== MAGIC) {
    throw new Error(`Cannot read "${path}": old-format cache without the new format (unsupported)`);
  }
  return aligned;
}

function hwcapNames(data: Uint8Array, view: DataView, extensionOffset: number, path: string): string[] {
  if (extensionOffset === 0 || extensionOffset + 8 > data.length) return [];
  if (view.getUint32(extensionOffset, true) !== EXTENSION_MAGIC) return [];
  const count = view.getUint32(extensionOffset + 4, true);
  for (let i = 0; i < count; i++) {
    const at = extensionOffset + 8 + i * 16;
    if (at + 16 > data.length) throw new Error(`Cannot read "${path}": truncated extension directory`);
    if (view.getUint32(at, true) !== EXTENSION_TAG_HWCAPS) continue;
    const offset = view.getUint32(at + 8, true);
    const size = view.getUint32(at + 12, true);
    if (offset + size > data.length || size % 4 !== 0) {
      throw new Error(`Cannot read "${path}": glibc-hwcaps extension runs past the end`);
    }
    return Array.from(
      { length: size / 4 },
      (_, k) => readString(data, view.getUint32(offset + k * 4, true), "hwcaps", path),
    );
  }
  return [];
}

/**
 * Parses an ld.so.cache file (the new format, alone or after an old-format part).
 *
 * @param bytes the file's content
 * @param path the file, for messages
 * @returns the entries in file order (the order ld.so prefers among equal names)
 * @throws Error `Cannot read "<path>": <why>` for a bad magic, a big-endian cache, truncation or
 *   string offsets past the end
 */
export function parseLdCache(bytes: Uint8Array, path: string): LdCacheEntry[] {
  const start = newFormatStart(bytes, path);
  const data = bytes.subarray(start);
  if (data.length < HEADER_SIZE) throw new Error(`Cannot read "${path}": truncated header`);
  const version = decoder.decode(data.subarray(MAGIC.length, MAGIC.length + VERSION.length));
  if (version !== VERSION) throw new Error(`Cannot read "${path}": unsupported version "${version}"`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(20, true);
  const endian = data[28]! & ENDIAN_MASK;
  if (endian !== ENDIAN_UNSET && endian !== ENDIAN_LITTLE) {
    throw new Error(`Cannot read "${path}": not a little-endian cache`);
  }
  if (HEADER_SIZE + count * ENTRY_SIZE > data.length) {
    throw new Error(`Cannot read "${path}": ${count} entries run past the end of the file`);
  }
  const hwcaps = hwcapNames(data, view, view.getUint32(32, true), path);
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER_SIZE + i * ENTRY_SIZE;
    const hwcap = view.getBigUint64(at + 16, true);
    let subdir: string | null = null;
    if ((hwcap & HWCAP_EXTENSION) !== 0n) {
      const index = Number(hwcap & HWCAP_INDEX_MASK);
      subdir = hwcaps[index] ?? `unknown-hwcaps-${index}`;
    } else if (hwcap !== 0n) {
      subdir = `legacy-hwcap-0x${hwcap.toString(16)}`;
    }
    entries.push({
      flags: view.getInt32(at, true),
      name: readString(data, view.getUint32(at + 4, true), "name", path),
      path: readString(data, view.getUint32(at + 8, true), "path", path),
      hwcaps: subdir,
    });
  }
  return entries;
}

/**
 * Reads and parses an ld.so.cache file.
 *
 * @param path the cache (default the host's `/etc/ld.so.cache`)
 * @returns the entries, `null` when the file does not exist
 * @throws Error when it exists but cannot be read or parsed
 */
export async function readLdCache(path = "/etc/ld.so.cache"): Promise<LdCacheEntry[] | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read "${path}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return parseLdCache(bytes, path);
}

/**
 * Looks a name up the way ld.so does for a baseline x86-64 CPU: the first x86-64 glibc entry with that
 * name and no glibc-hwcaps subdirectory (those need CPU features the guest may lack, e.g. under TCG).
 *
 * @param entries the cache's entries in file order
 * @param name the soname
 * @returns the path, `null` when the cache has none
 */
export function lookupLdCache(entries: readonly LdCacheEntry[], name: string): string | null {
  const found = entries.find((e) => e.name === name && e.flags === FLAGS_X86_64_LIBC6 && e.hwcaps === null);
  return found?.path ?? null;
}

/**
 * Writes a cache that ld.so reads: x86-64 baseline entries, sorted as ldconfig sorts them, no
 * extensions. Deterministic: the same names and paths give the same bytes.
 *
 * @param libraries soname -> path; each name at most once
 * @returns the file's content
 * @example
 * ```ts
 * import { parseLdCache, writeLdCache } from "./ldcache.ts";
 * const bytes = writeLdCache(new Map([["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"]]));
 * if (parseLdCache(bytes, "cache")[0]?.path !== "/lib/x86_64-linux-gnu/libc.so.6") throw new Error();
 * ```
 */
export function writeLdCache(libraries: ReadonlyMap<string, string>): Uint8Array {
  const sorted = [...libraries].sort(([a], [b]) => compareLibraryNames(b, a));
  const stringsAt = HEADER_SIZE + sorted.length * ENTRY_SIZE;
  const strings: Uint8Array[] = [];
  const offsets = new Map<string, number>();
  let length = 0;
  const intern = (s: string): number => {
    let at = offsets.get(s);
    if (at === undefined) {
      at = stringsAt + length;
      offsets.set(s, at);
      const bytes = encoder.encode(s + "\0");
      strings.push(bytes);
      length += bytes.length;
    }
    return at;
  };
  const keys = sorted.map(([name, path]) => [intern(name), intern(path)] as const);
  const out = new Uint8Array(stringsAt + length);
  const view = new DataView(out.buffer);
  out.set(encoder.encode(MAGIC + VERSION), 0);
  view.setUint32(20, sorted.length, true);
  view.setUint32(24, length, true);
  out[28] = ENDIAN_LITTLE;
  keys.forEach(([key, value], i) => {
    const at = HEADER_SIZE + i * ENTRY_SIZE;
    view.setInt32(at, FLAGS_X86_64_LIBC6, true);
    view.setUint32(at + 4, key, true);
    view.setUint32(at + 8, value, true);
  });
  let at = stringsAt;
  for (const s of strings) {
    out.set(s, at);
    at += s.length;
  }
  return out;
}
