/**
 * A small ELF64 reader: the file header, the program headers, the interpreter path (PT_INTERP) and the
 * dynamic section (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_FLAGS_1) found through PT_DYNAMIC, so
 * that the toolchain can validate an executable and follow its shared libraries without host tools.
 *
 * Everything is bounds-checked: a truncated or corrupt file is an {@linkcode ElfError}, never a crash.
 *
 * @module
 */

/** The file is not an ELF file this toolchain can use; `message` says why (`not an ELF file`). */
export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElfError";
  }
}

/** ELF file types we care about. */
export type ElfType = "exec" | "dyn" | "rel" | "core" | "other";

/** One program header. */
export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  fileSize: number;
  memSize: number;
}

/** What the dynamic section says about loading (strings already looked up in DT_STRTAB). */
export interface DynamicInfo {
  /** DT_NEEDED names, in order. */
  needed: string[];
  /** DT_SONAME, `null` when absent. */
  soname: string | null;
  /** DT_RPATH as written (colon-separated, may hold `$ORIGIN`), `null` when absent. */
  rpath: string | null;
  /** DT_RUNPATH as written, `null` when absent. */
  runpath: string | null;
  /** DT_FLAGS_1 (e.g. {@linkcode DF_1_NODEFLIB}), 0 when absent. */
  flags1: number;
}

/** What the reader found. */
export interface ElfInfo {
  type: ElfType;
  machine: number;
  entry: bigint;
  programHeaders: ProgramHeader[];
  /** The PT_INTERP path (`/lib64/ld-linux-x86-64.so.2`), `null` for static executables. */
  interpreter: string | null;
  /** The dynamic section, `null` when there is no PT_DYNAMIC (static non-PIE executables). */
  dynamic: DynamicInfo | null;
}

/** The first bytes of an ELF file: enough to tell whether ld.so would load it on x86-64. */
export interface ElfIdentity {
  /** 32 or 64 (ELFCLASS32 / ELFCLASS64); other values as found. */
  bits: number;
  /** Whether the data encoding is little-endian. */
  littleEndian: boolean;
  /** `e_machine` (read little-endian). */
  machine: number;
  type: ElfType;
}

/** `e_machine` of x86-64. */
export const EM_X86_64 = 62;
/** Program header type of a loadable segment. */
export const PT_LOAD = 1;
/** Program header type of the dynamic section. */
export const PT_DYNAMIC = 2;
/** Program header type of the interpreter path. */
export const PT_INTERP = 3;
/** DT_FLAGS_1 bit: ignore the default library search path (and ld.so.cache) for this object's dependencies. */
export const DF_1_NODEFLIB = 0x800;

const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const DT_FLAGS_1 = 0x6ffffffbn;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const DYN_SIZE = 16;
/** Names are read from the string table this many bytes at a time. */
const NAME_CHUNK = 256;
/** No real program has more; a larger count is a corrupt header, not a reason to allocate gigabytes. */
const MAX_PROGRAM_HEADERS = 4096;
const TYPES: Record<number, ElfType> = { 1: "rel", 2: "exec", 3: "dyn", 4: "core" };

/** Random access to a file's bytes; `read` returns fewer bytes only at the end of the file. */
interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** Reads exactly `length` bytes at `offset` or throws a "truncated" error naming `what`. */
function readExact(source: ByteSource, offset: number, length: number, what: string): Uint8Array {
  if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new ElfError(`truncated ELF file (${what} past the end of the file)`);
  }
  const bytes = source.read(offset, length);
  if (bytes.length < length) throw new ElfError(`truncated ELF file (${what} past the end of the file)`);
  return bytes;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isElfMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * Reads the identity of an ELF file from its first bytes without judging it.
 *
 * @param head at least the first 20 bytes of the file
 * @returns class, byte order, machine and type; `null` when the bytes are not an ELF header
 * @example
 * ```ts
 * import { identifyElf } from "./elf.ts";
 * if (identifyElf(new TextEncoder().encode("#!/bin/sh\n")) !== null) throw new Error();
 * ```
 */
export function identifyElf(head: Uint8Array): ElfIdentity | null {
  if (!isElfMagic(head) || head.length < 20) return null;
  const view = viewOf(head);
  return {
    bits: head[4] === 1 ? 32 : head[4] === 2 ? 64 : head[4] ?? 0,
    littleEndian: head[5] === 1,
    machine: view.getUint16(18, true),
    type: TYPES[view.getUint16(16, true)] ?? "other",
  };
}

function parseFrom(source: ByteSource): ElfInfo {
  const ident = source.read(0, 6);
  if (!isElfMagic(ident)) throw new ElfError("not an ELF file");
  if (ident.length < 6) throw new ElfError("truncated ELF file (no complete header)");
  if (ident[4] === 1) throw new ElfError("32-bit ELF files are not supported (need x86-64)");
  if (ident[4] !== 2) throw new ElfError(`unknown ELF class ${ident[4]}`);
  if (ident[5] !== 1) throw new ElfError("big-endian ELF files are not supported (need x86-64)");
  if (source.size < EHDR_SIZE) throw new ElfError("truncated ELF file (no complete header)");
  const header = viewOf(readExact(source, 0, EHDR_SIZE, "header"));
  const type = TYPES[header.getUint16(16, true)] ?? "other";
  const machine = header.getUint16(18, true);
  const entry = header.getBigUint64(24, true);
  const programHeaders = readProgramHeaders(source, header);
  const interp = programHeaders.find((p) => p.type === PT_INTERP);
  const interpreter = interp ? cString(readExact(source, interp.offset, interp.fileSize, "interpreter path")) : null;
  const dyn = programHeaders.find((p) => p.type === PT_DYNAMIC);
  const dynamic = dyn ? readDynamic(source, dyn, programHeaders) : null;
  return { type, machine, entry, programHeaders, interpreter, dynamic };
}

function readProgramHeaders(source: ByteSource, header: DataView): ProgramHeader[] {
  const phoff = Number(header.getBigUint64(32, true));
  const phentsize = header.getUint16(54, true);
  const phnum = header.getUint16(56, true);
  if (phnum === 0) return [];
  if (phentsize < PHDR_SIZE) throw new ElfError(`bad program header size ${phentsize}`);
  if (phnum > MAX_PROGRAM_HEADERS) throw new ElfError(`too many program headers (${phnum})`);
  const table = viewOf(readExact(source, phoff, phnum * phentsize, "program headers"));
  const headers: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    headers.push({
      type: table.getUint32(at, true),
      flags: table.getUint32(at + 4, true),
      offset: Number(table.getBigUint64(at + 8, true)),
      vaddr: table.getBigUint64(at + 16, true),
      fileSize: Number(table.getBigUint64(at + 32, true)),
      memSize: Number(table.getBigUint64(at + 40, true)),
    });
  }
  return headers;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function cString(raw: Uint8Array): string {
  const nul = raw.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? raw.subarray(0, nul) : raw);
}

/** The file offset of a virtual address, through the PT_LOAD segment holding it in the file. */
function fileOffsetOf(address: bigint, headers: readonly ProgramHeader[]): { offset: number; available: number } {
  for (const p of headers) {
    if (p.type !== PT_LOAD) continue;
    const end = p.vaddr + BigInt(p.fileSize);
    if (address >= p.vaddr && address < end) {
      const into = Number(address - p.vaddr);
      return { offset: p.offset + into, available: p.fileSize - into };
    }
  }
  throw new ElfError(`bad dynamic section (DT_STRTAB address 0x${address.toString(16)} is in no loadable segment)`);
}

function readDynamic(source: ByteSource, dyn: ProgramHeader, headers: readonly ProgramHeader[]): DynamicInfo {
  const table = viewOf(readExact(source, dyn.offset, dyn.fileSize, "dynamic section"));
  const entries: [bigint, bigint][] = [];
  let terminated = false;
  for (let at = 0; at + DYN_SIZE <= table.byteLength; at += DYN_SIZE) {
    const tag = table.getBigInt64(at, true);
    if (tag === DT_NULL) {
      terminated = true;
      break;
    }
    entries.push([tag, table.getBigUint64(at + 8, true)]);
  }
  if (!terminated) throw new ElfError("bad dynamic section (no DT_NULL before its end)");

  const value = (tag: bigint) => entries.find(([t]) => t === tag)?.[1];
  const stringTags = [DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH];
  if (!entries.some(([t]) => stringTags.includes(t))) {
    return { needed: [], soname: null, rpath: null, runpath: null, flags1: Number(value(DT_FLAGS_1) ?? 0n) };
  }
  const strtab = value(DT_STRTAB);
  if (strtab === undefined) throw new ElfError("bad dynamic section (names but no DT_STRTAB)");
  const where = fileOffsetOf(strtab, headers);
  const declared = value(DT_STRSZ);
  const size = declared === undefined ? where.available : Number(declared);
  if (size > where.available) throw new ElfError(`bad dynamic section (DT_STRSZ ${size} runs past its segment)`);
  if (where.offset + size > source.size) {
    throw new ElfError("truncated ELF file (string table past the end of the file)");
  }
  // Read name by name: the string tables of big libraries (LLVM, CUDA) run to megabytes.
  const string = (offset: bigint): string => {
    if (offset >= BigInt(size)) {
      throw new ElfError(`bad dynamic section (name at ${offset} is past the string table of ${size} bytes)`);
    }
    const start = Number(offset);
    const chunks: Uint8Array[] = [];
    for (let at = start; at < size; at += NAME_CHUNK) {
      const chunk = source.read(where.offset + at, Math.min(NAME_CHUNK, size - at));
      const nul = chunk.indexOf(0);
      chunks.push(nul >= 0 ? chunk.subarray(0, nul) : chunk);
      if (nul >= 0) return new TextDecoder().decode(concat(chunks));
      if (chunk.length === 0) break;
    }
    throw new ElfError(`bad dynamic section (name at ${offset} is not NUL-terminated)`);
  };
  const optional = (tag: bigint) => {
    const v = value(tag);
    return v === undefined ? null : string(v);
  };
  return {
    needed: entries.filter(([t]) => t === DT_NEEDED).map(([, v]) => string(v)),
    soname: optional(DT_SONAME),
    rpath: optional(DT_RPATH),
    runpath: optional(DT_RUNPATH),
    flags1: Number(value(DT_FLAGS_1) ?? 0n),
  };
}

/**
 * Parses an ELF64 little-endian file: header, program headers, interpreter path and dynamic section.
 *
 * @param bytes the file (at least every part the headers point to)
 * @returns the parsed file
 * @throws ElfError when the bytes are not a complete, consistent little-endian ELF64 file
 */
export function parseElf(bytes: Uint8Array): ElfInfo {
  return parseFrom(bytesSource(bytes));
}

/** Positioned reads of an open file, with its first page kept (headers are read from it many times). */
function fileSource(file: Deno.FsFile, size: number): ByteSource {
  const readAt = (offset: number, length: number): Uint8Array => {
    const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
    file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const n = file.readSync(buf.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  };
  const head = readAt(0, 4096);
  return {
    size,
    read: (offset, length) =>
      offset + length <= head.length ? head.subarray(offset, offset + length) : readAt(offset, length),
  };
}

/**
 * Reads and parses an ELF file on the host, reading only the parts the headers point to.
 *
 * @param path host path
 * @returns the parsed file
 * @throws ElfError when it is not a usable ELF64 file; Deno errors when it cannot be read
 */
export async function readElf(path: string): Promise<ElfInfo> {
  using file = await Deno.open(path);
  const stat = await file.stat();
  if (!stat.isFile) throw new ElfError("not a regular file");
  return parseFrom(fileSource(file, stat.size));
}

const SHT_DYNSYM = 11;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
/** Beyond these the file is corrupt, not big. */
const MAX_SECTIONS = 65280;
const MAX_SYMBOLS = 1 << 22;

/**
 * Names of the symbols an ELF file defines in its dynamic symbol table (`.dynsym`, found through the
 * section headers): what other objects (and `dlsym`) can find in it, e.g. a Python interpreter's
 * `PyInit_<module>` functions for its built-in modules.
 *
 * @param path host path
 * @returns the defined names, in table order (empty when there is no `.dynsym`)
 * @throws ElfError when the file is not a usable ELF64 file or its tables are out of bounds
 */
export async function readDynamicSymbols(path: string): Promise<string[]> {
  using file = await Deno.open(path);
  const stat = await file.stat();
  if (!stat.isFile) throw new ElfError("not a regular file");
  const source = fileSource(file, stat.size);
  parseFrom(source);
  const header = viewOf(readExact(source, 0, EHDR_SIZE, "header"));
  const shoff = Number(header.getBigUint64(40, true));
  const shentsize = header.getUint16(58, true);
  const shnum = header.getUint16(60, true);
  if (shoff === 0 || shnum === 0) return [];
  if (shentsize < SHDR_SIZE) throw new ElfError(`bad section header size ${shentsize}`);
  if (shnum > MAX_SECTIONS) throw new ElfError(`too many sections (${shnum})`);
  const table = viewOf(readExact(source, shoff, shnum * shentsize, "section headers"));
  const section = (index: number) => {
    const at = index * shentsize;
    return {
      type: table.getUint32(at + 4, true),
      offset: Number(table.getBigUint64(at + 24, true)),
      size: Number(table.getBigUint64(at + 32, true)),
      link: table.getUint32(at + 40, true),
    };
  };
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_DYNSYM) continue;
    if (symtab.link >= shnum) throw new ElfError(`bad .dynsym (string table section ${symtab.link} does not exist)`);
    const strtab = section(symtab.link);
    const count = Math.floor(symtab.size / SYM_SIZE);
    if (count > MAX_SYMBOLS) throw new ElfError(`too many dynamic symbols (${count})`);
    const symbols = viewOf(readExact(source, symtab.offset, count * SYM_SIZE, "dynamic symbols"));
    const strings = readExact(source, strtab.offset, strtab.size, "dynamic symbol names");
    const names: string[] = [];
    for (let s = 1; s < count; s++) {
      const at = s * SYM_SIZE;
      if (symbols.getUint16(at + 6, true) === 0) continue; // SHN_UNDEF: needed from elsewhere
      const name = symbols.getUint32(at, true);
      if (name >= strings.length) throw new ElfError(`bad .dynsym (name at ${name} is past its string table)`);
      names.push(cString(strings.subarray(name)));
    }
    return names;
  }
  return [];
}

/**
 * Reads the first bytes of a host file and identifies it (see {@linkcode identifyElf}).
 *
 * @param path host path
 * @returns the identity, `null` when the file is not ELF
 * @throws Deno errors when the file cannot be read
 */
export async function readElfIdentity(path: string): Promise<ElfIdentity | null> {
  using file = await Deno.open(path);
  const head = new Uint8Array(20);
  let got = 0;
  while (got < head.length) {
    const n = await file.read(head.subarray(got));
    if (n === null) break;
    got += n;
  }
  return identifyElf(head.subarray(0, got));
}

/**
 * Checks that an ELF is an x86-64 executable osv can start: static, static-pie, or dynamically linked
 * (with an interpreter).
 *
 * @param info parsed file
 * @throws ElfError naming what is wrong
 */
export function assertRunnable(info: ElfInfo): void {
  if (info.machine !== EM_X86_64) throw new ElfError(`not an x86-64 ELF file (machine ${info.machine})`);
  if (info.type !== "exec" && info.type !== "dyn") throw new ElfError(`not an executable ELF file (type ${info.type})`);
  if (info.entry === 0n) throw new ElfError("ELF file has no entry point (a shared library?)");
  if (info.interpreter === "") throw new ElfError("ELF file has an empty interpreter path (PT_INTERP)");
}
