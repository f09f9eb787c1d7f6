/**
 * A small ELF64 reader: the file header and program headers, enough to validate an executable and see
 * whether it is static or needs an interpreter (PT_INTERP).
 *
 * @module
 */

/** The file is not an ELF executable this toolchain can use; `message` says why (`not an ELF file`). */
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

/** What the reader found. */
export interface ElfInfo {
  type: ElfType;
  machine: number;
  entry: bigint;
  programHeaders: ProgramHeader[];
  /** The PT_INTERP path (`/lib64/ld-linux-x86-64.so.2`), `null` for static executables. */
  interpreter: string | null;
}

/** `e_machine` of x86-64. */
export const EM_X86_64 = 62;
/** Program header type of the interpreter path. */
export const PT_INTERP = 3;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const TYPES: Record<number, ElfType> = { 1: "rel", 2: "exec", 3: "dyn", 4: "core" };

/**
 * Parses an ELF64 little-endian file header and its program headers.
 *
 * @param bytes the start of the file; must contain the program headers and the interpreter path
 * @returns the parsed header
 * @throws ElfError when the bytes are not a complete little-endian ELF64 header
 */
export function parseElf(bytes: Uint8Array): ElfInfo {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError("not an ELF file");
  }
  if (bytes.length < 6) throw new ElfError("truncated ELF file (no complete header)");
  if (bytes[4] === 1) throw new ElfError("32-bit ELF files are not supported (need x86-64)");
  if (bytes[4] !== 2) throw new ElfError(`unknown ELF class ${bytes[4]}`);
  if (bytes[5] !== 1) throw new ElfError("big-endian ELF files are not supported (need x86-64)");
  if (bytes.length < EHDR_SIZE) throw new ElfError("truncated ELF file (no complete header)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = TYPES[view.getUint16(16, true)] ?? "other";
  const machine = view.getUint16(18, true);
  const entry = view.getBigUint64(24, true);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phnum > 0 && phentsize < PHDR_SIZE) throw new ElfError(`bad program header size ${phentsize}`);
  if (phoff + phnum * phentsize > bytes.length) throw new ElfError("truncated ELF file (program headers missing)");
  const programHeaders: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    programHeaders.push({
      type: view.getUint32(at, true),
      flags: view.getUint32(at + 4, true),
      offset: Number(view.getBigUint64(at + 8, true)),
      vaddr: view.getBigUint64(at + 16, true),
      fileSize: Number(view.getBigUint64(at + 32, true)),
      memSize: Number(view.getBigUint64(at + 40, true)),
    });
  }
  let interpreter: string | null = null;
  const interp = programHeaders.find((p) => p.type === PT_INTERP);
  if (interp) {
    if (interp.offset + interp.fileSize > bytes.length) throw new ElfError("truncated ELF file (interpreter path)");
    const raw = bytes.subarray(interp.offset, interp.offset + interp.fileSize);
    const nul = raw.indexOf(0);
    interpreter = new TextDecoder().decode(nul >= 0 ? raw.subarray(0, nul) : raw);
  }
  return { type, machine, entry, programHeaders, interpreter };
}

/**
 * Reads and parses the ELF header of a host file (only the bytes the headers need).
 *
 * @param path host path
 * @returns the parsed header
 * @throws ElfError when it is not a usable ELF64 file; Deno errors when it cannot be read
 */
export async function readElf(path: string): Promise<ElfInfo> {
  using file = await Deno.open(path);
  const head = await readAt(file, 0, 4096);
  try {
    return parseElf(head);
  } catch (err) {
    // Program headers or the interpreter path may lie beyond the first page: read what they need.
    if (!(err instanceof ElfError) || !err.message.startsWith("truncated") || head.length < 4096) throw err;
    const size = (await file.stat()).size;
    return parseElf(await readAt(file, 0, Math.min(size, 1 << 20)));
  }
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Checks that an ELF is an x86-64 executable osv can start (static for now).
 *
 * @param info parsed header
 * @throws ElfError naming what is wrong
 */
export function assertRunnableStatic(info: ElfInfo): void {
  if (info.machine !== EM_X86_64) throw new ElfError(`not an x86-64 ELF file (machine ${info.machine})`);
  if (info.type !== "exec" && info.type !== "dyn") throw new ElfError(`not an executable ELF file (type ${info.type})`);
  if (info.entry === 0n) throw new ElfError("ELF file has no entry point (a shared library?)");
  if (info.interpreter !== null) {
    throw new ElfError(
      `dynamic executables are not supported yet (interpreter ${info.interpreter}); link with -static`,
    );
  }
}
