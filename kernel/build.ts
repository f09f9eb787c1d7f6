/**
 * Builds the osv kernel ELF with the host's gcc and binutils, cached by a hash of its sources and flags.
 *
 * Called by the toolchain's pipeline (core/pipeline.ts) and by tests and benchmarks. The vDSO
 * (`kernel/vdso/`) is built first, as a small shared object embedded in the kernel. The link is done
 * twice: the first link gives the final addresses, from which a symbol table is generated and linked
 * into the last section of the image (so no address moves), letting the kernel name the function of
 * any RIP in its crash reports.
 *
 * @module
 */

import { osvCacheDir } from "../core/cachedir.ts";

/** What {@linkcode buildKernel} produces. */
export interface KernelArtifact {
  /** Path of the kernel ELF in the cache. */
  path: string;
  /** Size of the ELF in bytes. */
  size: number;
  /** Content hash of the inputs (sources + flags + features), hex. */
  hash: string;
  /** Human-readable version: `osv-<version>-<hash prefix>`. */
  version: string;
  /** Whether the ELF came from the cache. */
  cached: boolean;
}

/** Options of {@linkcode buildKernel}. */
export interface KernelBuildOptions {
  /** Kernel features the image needs (e.g. `fs/ramfs`); passed to C as `-DOSV_FEATURE_<NAME>`. */
  features?: readonly string[];
  /** Cache directory; default {@linkcode osvCacheDir} (`$OSV_CACHE_DIR` or `~/.cache/osv`). */
  cacheDir?: string;
  /** Progress lines (one per compile step). */
  log?: (line: string) => void;
}

const KERNEL_VERSION = "0.1.0";

/** Flags every kernel object is compiled with: baseline ISA, no SSE (see design.md §5). */
export const KERNEL_CFLAGS: readonly string[] = [
  "-std=gnu11",
  "-O2",
  "-g0",
  "-ffreestanding",
  "-fno-builtin",
  "-fno-tree-loop-distribute-patterns",
  "-fno-strict-aliasing", // device rings and MMIO registers are reached through casts, as in Linux
  "-nostdlib",
  "-nostdinc",
  "-fno-pic",
  "-fno-pie",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fno-omit-frame-pointer",
  "-fcf-protection=none",
  "-mno-red-zone",
  "-mcmodel=kernel",
  "-march=x86-64",
  "-mtune=generic",
  "-mgeneral-regs-only",
  "-Wall",
  "-Wextra",
  "-Wno-unused-parameter",
  "-Werror=implicit-function-declaration",
  "-Werror=return-type",
];

const LDFLAGS: readonly string[] = ["-nostdlib", "-static", "-no-pie", "-z", "max-page-size=4096", "-z", "noexecstack"];

/** Flags of the vDSO (`kernel/vdso/`): user-mode code, position-independent, integer only. */
export const VDSO_CFLAGS: readonly string[] = [
  "-std=gnu11",
  "-O2",
  "-g0",
  "-fPIC",
  "-ffreestanding",
  "-fno-builtin",
  "-nostdlib",
  "-nostdinc",
  "-fno-stack-protector",
  "-fno-asynchronous-unwind-tables",
  "-fcf-protection=none",
  "-march=x86-64",
  "-mtune=generic",
  "-mgeneral-regs-only",
  "-Wall",
  "-Wextra",
  "-Wno-unused-parameter",
  "-Werror=implicit-function-declaration",
  "-Werror=return-type",
];

const VDSO_LDFLAGS: readonly string[] = [
  "-nostdlib",
  "-shared",
  "-Wl,--hash-style=both",
  "-Wl,-soname=linux-vdso.so.1",
  "-Wl,--no-undefined",
  "-Wl,--build-id=none",
  "-Wl,-z,max-page-size=4096",
  "-Wl,-z,noexecstack",
];

/** The vDSO's sources: compiled on their own (user code), never into the kernel. */
const VDSO_DIR = "vdso/";

/** The kernel source directory (real files; copied out when running from a `deno compile` binary). */
async function sourceDir(cacheDir: string): Promise<string> {
  const here = import.meta.dirname;
  if (here && !here.includes("deno-compile-")) return here;
  // Inside a compiled executable the embedded files are readable but gcc cannot see them: copy them out.
  const embedded = here ?? new URL(".", import.meta.url).pathname;
  const out = `${cacheDir}/kernel-src-${KERNEL_VERSION}`;
  await copyTree(embedded, out);
  return out;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = `${from}/${entry.name}`;
    const dst = `${to}/${entry.name}`;
    if (entry.isDirectory) await copyTree(src, dst);
    else if (entry.isFile) await Deno.writeFile(dst, await Deno.readFile(src));
  }
}

/** Every source and header below `dir`, sorted, relative paths (tests excluded). */
async function listSources(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory && rel !== "tests") files.push(...await listSources(dir, rel));
    else if (entry.isFile && /\.(c|S|h|ld|def)$/.test(entry.name)) files.push(rel);
  }
  return files.sort();
}

async function sha256Hex(parts: readonly Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + p.length + 8, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    new DataView(joined.buffer).setBigUint64(at, BigInt(p.length), true);
    joined.set(p, at + 8);
    at += p.length + 8;
  }
  const digest = await crypto.subtle.digest("SHA-256", joined);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function run(cmd: string, args: readonly string[]): Promise<string> {
  let result;
  try {
    result = await new Deno.Command(cmd, { args: [...args], stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot build the kernel: "${cmd}" is not installed (apt-get install gcc binutils)`);
    }
    throw err;
  }
  const decoder = new TextDecoder();
  if (!result.success) {
    throw new Error(`Cannot build the kernel: ${cmd} failed:\n${decoder.decode(result.stderr)}`);
  }
  return decoder.decode(result.stdout);
}

function featureDefine(feature: string): string {
  return `-DOSV_FEATURE_${feature.toUpperCase().replace(/[^A-Z0-9]/g, "_")}=1`;
}

/** Generates the assembler source of the symbol table from `nm -n` output of the first link. */
export function symbolTableAsm(nmOutput: string): string {
  const symbols: { addr: string; name: string }[] = [];
  for (const line of nmOutput.split("\n")) {
    const [addr, type, name] = line.trim().split(/\s+/);
    if (!addr || !type || !name || !/^[tTwW]$/.test(type)) continue;
    symbols.push({ addr, name });
  }
  const lines = [
    `.section .ksyms, "a"`,
    `.balign 8`,
    `.globl ksym_count`,
    `ksym_count: .quad ${symbols.length}`,
    `.globl ksym_table`,
    `ksym_table:`,
  ];
  symbols.forEach((s, i) => lines.push(`.quad 0x${s.addr}, .Lname${i}`));
  symbols.forEach((s, i) => lines.push(`.Lname${i}: .asciz "${s.name}"`));
  return lines.join("\n") + "\n";
}

/**
 * Builds the vDSO: compiles `vdso/*.c` as position-independent user code, links them into a shared object
 * with `vdso/vdso.ld`, strips it, checks that it needs no relocations and has one loadable segment and no
 * writable data (the kernel maps the file as it is, read-only, into every app), and returns an assembler
 * source that embeds it page-aligned in the kernel's read-only data as `vdso_image`..`vdso_image_end`.
 */
async function buildVdso(src: string, files: readonly string[], workDir: string, includes: readonly string[]) {
  const objects: string[] = [];
  for (const f of files.filter((f) => f.startsWith(VDSO_DIR) && f.endsWith(".c"))) {
    const obj = `${workDir}/vdso_${f.slice(VDSO_DIR.length)}.o`;
    await run("gcc", [...VDSO_CFLAGS, ...includes, "-c", `${src}/${f}`, "-o", obj]);
    objects.push(obj);
  }
  const linked = `${workDir}/vdso.so`, image = `${workDir}/vdso.image`;
  await run("gcc", [...VDSO_LDFLAGS, `-Wl,-T,${src}/${VDSO_DIR}vdso.ld`, "-o", linked, ...objects]);
  await run("objcopy", ["--strip-all", linked, image]);
  const layout = await run("readelf", ["-lrSW", image]);
  const loads = layout.match(/^\s+LOAD\s/gm)?.length ?? 0;
  if (!layout.includes("There are no relocations in this file.") || loads !== 1 || /\s\.(data|bss)\s/.test(layout)) {
    throw new Error(`Cannot build the kernel: the vDSO must have one segment, no relocations and no data:\n${layout}`);
  }
  return [
    `.section .rodata.vdso, "a"`,
    `.balign 4096`,
    `.globl vdso_image`,
    `vdso_image:`,
    `.incbin "${image}"`,
    `.globl vdso_image_end`,
    `vdso_image_end:`,
    `.balign 4096`,
  ].join("\n") + "\n";
}

/**
 * Compiles and links the kernel, or returns the cached ELF built from the same inputs.
 *
 * @param options features, cache directory and progress callback
 * @returns where the ELF is and what it is
 * @throws Error when gcc/ld are missing or a source fails to compile (with the compiler's message)
 */
export async function buildKernel(options: KernelBuildOptions = {}): Promise<KernelArtifact> {
  const cacheDir = options.cacheDir ?? osvCacheDir();
  const features = [...new Set(options.features ?? [])].sort();
  const log = options.log ?? (() => {});
  const src = await sourceDir(cacheDir);
  const files = await listSources(src);
  const encoder = new TextEncoder();
  const flags = [...KERNEL_CFLAGS, ...features.map(featureDefine)];
  const parts = [
    encoder.encode(flags.join(" ")),
    encoder.encode([...VDSO_CFLAGS, ...VDSO_LDFLAGS].join(" ")),
    encoder.encode(KERNEL_VERSION),
  ];
  for (const f of files) parts.push(encoder.encode(f), await Deno.readFile(`${src}/${f}`));
  const hash = await sha256Hex(parts);
  const version = `osv-${KERNEL_VERSION}-${hash.slice(0, 12)}`;
  const outDir = `${cacheDir}/kernel/${hash}`;
  const elfPath = `${outDir}/kernel.elf`;
  try {
    const stat = await Deno.stat(elfPath);
    return { path: elfPath, size: stat.size, hash, version, cached: true };
  } catch {
    // Not cached yet: build below.
  }

  const workDir = `${outDir}.tmp-${Deno.pid}`;
  await Deno.mkdir(`${workDir}/obj`, { recursive: true });
  try {
    const includes = [`-I${src}`, `-I${src}/include`];
    const defines = [`-DOSV_VERSION="${version}"`];
    const sources = files.filter((f) => (f.endsWith(".c") || f.endsWith(".S")) && !f.startsWith(VDSO_DIR));
    const vdsoAsm = `${workDir}/vdso_image.S`;
    await Deno.writeTextFile(vdsoAsm, await buildVdso(src, files, workDir, includes));
    log("kernel: built the vDSO");
    const objects: string[] = [];
    let done = 0;
    // Two compilers at a time: our machines have two cores.
    const queue = [...sources];
    const worker = async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        const obj = `${workDir}/obj/${f.replaceAll("/", "_")}.o`;
        await run("gcc", [...flags, ...includes, ...defines, "-c", `${src}/${f}`, "-o", obj]);
        objects.push(obj);
        log(`kernel: compiled ${f} (${++done}/${sources.length})`);
      }
    };
    await Promise.all([worker(), worker()]);
    await run("gcc", [...flags, "-c", vdsoAsm, "-o", `${workDir}/obj/vdso_image.o`]);
    objects.push(`${workDir}/obj/vdso_image.o`);
    objects.sort();
    const linkScript = `${src}/arch/x86_64/kernel.ld`;
    const link = async (symbolsAsm: string, out: string) => {
      const asmPath = `${workDir}/ksyms.S`;
      await Deno.writeTextFile(asmPath, symbolsAsm);
      await run("gcc", [...flags, "-c", asmPath, "-o", `${workDir}/ksyms.o`]);
      await run("gcc", [...LDFLAGS, "-T", linkScript, "-o", out, ...objects, `${workDir}/ksyms.o`]);
    };
    await link(symbolTableAsm(""), `${workDir}/pass1.elf`);
    const symbols = await run("nm", ["-n", "--defined-only", `${workDir}/pass1.elf`]);
    await link(symbolTableAsm(symbols), `${workDir}/kernel.elf`);
    await run("strip", ["--strip-all", `${workDir}/kernel.elf`]);
    log("kernel: linked");
    await Deno.rename(`${workDir}/kernel.elf`, `${workDir}/done.elf`);
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.rename(`${workDir}/done.elf`, elfPath);
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  const stat = await Deno.stat(elfPath);
  return { path: elfPath, size: stat.size, hash, version, cached: false };
}

if (import.meta.main) {
  const artifact = await buildKernel({ log: (l) => console.error(l) });
  console.log(JSON.stringify(artifact));
}
