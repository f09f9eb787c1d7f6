/**
 * Small dynamically linked programs and libraries built with gcc in a temp dir, laid out to exercise
 * each rule of ld.so's library search, and `ldd` as the oracle for what the host's ld.so loads.
 *
 * @module
 */

import { ensureHostTools } from "../../core/setup.ts";
import { fixtures } from "./_helpers.ts";

async function run(command: string, args: string[], cwd?: string): Promise<void> {
  const result = await new Deno.Command(command, { args, stderr: "piped", ...(cwd ? { cwd } : {}) }).output();
  if (!result.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${new TextDecoder().decode(result.stderr)}`);
  }
}

/** What a library or program is made of. */
interface Unit {
  /** Output path, relative to the scenario's directory. */
  out: string;
  /** C source. */
  source: string;
  /** Extra gcc/ld flags (libraries to link with, rpath...). */
  flags?: string[];
  /** `-Wl,-soname,...` for shared objects. */
  soname?: string;
}

/** Builds one object: a shared library when `soname` is given, else a program. */
async function build(dir: string, unit: Unit): Promise<string> {
  const out = `${dir}/${unit.out}`;
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")), { recursive: true });
  const src = `${out}.c`;
  await Deno.writeTextFile(src, unit.source);
  const shared = unit.soname === undefined ? [] : ["-shared", "-fPIC", `-Wl,-soname,${unit.soname}`];
  await run("gcc", [...shared, "-o", out, src, ...unit.flags ?? []], dir);
  return out;
}

const cache = new Map<string, Promise<string>>();

function scenario(name: string, make: (dir: string) => Promise<void>): Promise<string> {
  let found = cache.get(name);
  if (!found) {
    found = (async () => {
      await ensureHostTools(["gcc"]);
      const dir = `${await fixtures()}/libs-${name}`;
      await Deno.mkdir(dir, { recursive: true });
      await make(dir);
      return dir;
    })();
    cache.set(name, found);
  }
  return found;
}

const lib = (fn: string, calls = "") =>
  `${calls ? `int ${calls}(void);\n` : ""}int ${fn}(void) { return ${calls ? `${calls}() + ` : ""}1; }\n`;
const program = (calls: string) => `int ${calls}(void);\nint main(void) { return ${calls}() == 0; }\n`;
const NEW_DTAGS = "-Wl,--enable-new-dtags";
const OLD_DTAGS = "-Wl,--disable-new-dtags";

/**
 * `bin/app` (RUNPATH `$ORIGIN/../lib`) needs `libfoo.so.1` (RUNPATH `$ORIGIN`), which needs
 * `libdep.so.1`, a link to `libdep.so.1.0`. Also `lib/libextra.so.1`, which nothing needs.
 */
export const originTree = () =>
  scenario("origin", async (dir) => {
    await build(dir, { out: "lib/libdep.so.1.0", soname: "libdep.so.1", source: lib("dep") });
    await Deno.symlink("libdep.so.1.0", `${dir}/lib/libdep.so.1`);
    await build(dir, {
      out: "lib/libfoo.so.1",
      soname: "libfoo.so.1",
      source: lib("foo", "dep"),
      flags: ["-Llib", "-l:libdep.so.1", NEW_DTAGS, "-Wl,-rpath,$ORIGIN"],
    });
    await build(dir, {
      out: "lib/libextra.so.1",
      soname: "libextra.so.1",
      source: lib("extra", "dep"),
      flags: ["-Llib", "-l:libdep.so.1", NEW_DTAGS, "-Wl,-rpath,$ORIGIN"],
    });
    await build(dir, {
      out: "bin/app",
      source: program("foo"),
      flags: ["-Llib", "-l:libfoo.so.1", "-Wl,-rpath-link,lib", NEW_DTAGS, "-Wl,-rpath,$ORIGIN/../lib"],
    });
  });

/**
 * `rpath/app` and `runpath/app` need `libA.so` in `r1/`, which needs `libB.so`, also in `r1/`. The
 * program's DT_RPATH is inherited by libA's search (found); its DT_RUNPATH is not (libB missing).
 */
export const inheritTree = () =>
  scenario("inherit", async (dir) => {
    await build(dir, { out: "r1/libB.so", soname: "libB.so", source: lib("b") });
    await build(dir, { out: "r1/libA.so", soname: "libA.so", source: lib("a", "b"), flags: ["-Lr1", "-lB"] });
    for (const [name, tags] of [["rpath", OLD_DTAGS], ["runpath", NEW_DTAGS]] as const) {
      await build(dir, {
        out: `${name}/app`,
        source: program("a"),
        flags: ["-Lr1", "-lA", "-Wl,-rpath-link,r1", tags, `-Wl,-rpath,${dir}/r1`],
      });
    }
  });

/** `app` needs `libgone.so.1`, which was deleted after linking. */
export const missingTree = () =>
  scenario("missing", async (dir) => {
    await build(dir, { out: "lib/libgone.so.1", soname: "libgone.so.1", source: lib("gone") });
    await build(dir, {
      out: "app",
      source: program("gone"),
      flags: ["-Llib", "-l:libgone.so.1", NEW_DTAGS, "-Wl,-rpath,$ORIGIN/lib"],
    });
    await Deno.remove(`${dir}/lib/libgone.so.1`);
  });

/** A 32-bit shared object: gcc -m32 when it can, else a crafted ELFCLASS32 header. */
async function write32BitLibrary(path: string): Promise<void> {
  await Deno.writeTextFile(`${path}.c`, "int wa(void) { return 32; }\n");
  const compiled = await new Deno.Command("gcc", {
    args: ["-m32", "-shared", "-nostdlib", "-o", path, `${path}.c`],
    stderr: "null",
  }).output();
  if (compiled.success) return;
  const header = new Uint8Array(52);
  header.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  const view = new DataView(header.buffer);
  view.setUint16(16, 3, true); // ET_DYN
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(20, 1, true);
  await Deno.writeFile(path, header);
}

/**
 * `app` (DT_RPATH `w32:w64`) needs `libwa.so`: `w32/libwa.so` is 32-bit (skipped), `w64/libwa.so` is the
 * one. `only32/app` has DT_RPATH `w32` only. `bad/app` finds a text file named `libwa.so` first.
 */
export const archTree = () =>
  scenario("arch", async (dir) => {
    await build(dir, { out: "w64/libwa.so", soname: "libwa.so", source: lib("wa") });
    await Deno.mkdir(`${dir}/w32`, { recursive: true });
    await write32BitLibrary(`${dir}/w32/libwa.so`);
    await Deno.mkdir(`${dir}/text`, { recursive: true });
    await Deno.writeTextFile(`${dir}/text/libwa.so`, "/* GNU ld script */\nINPUT(libwa.so.1)\n");
    const app = (out: string, rpath: string) =>
      build(dir, { out, source: program("wa"), flags: ["-Lw64", "-lwa", OLD_DTAGS, `-Wl,-rpath,${rpath}`] });
    await app("app", `${dir}/w32:${dir}/w64`);
    await app("only32/app", `${dir}/w32`);
    await app("bad/app", `${dir}/text:${dir}/w64`);
  });

/** `app` needs `libcyc1.so`, which needs `libcyc2.so`, which needs `libcyc1.so` (all in `$ORIGIN`). */
export const cycleTree = () =>
  scenario("cycle", async (dir) => {
    const rpath = [NEW_DTAGS, "-Wl,-rpath,$ORIGIN"];
    await build(dir, { out: "libcyc1.so", soname: "libcyc1.so", source: lib("cyc1") });
    await build(dir, {
      out: "libcyc2.so",
      soname: "libcyc2.so",
      source: lib("cyc2", "cyc1"),
      flags: ["-L.", "-lcyc1", ...rpath],
    });
    await build(dir, {
      out: "libcyc1.so",
      soname: "libcyc1.so",
      source: lib("cyc1", "cyc2"),
      flags: ["-L.", "-lcyc2", ...rpath],
    });
    await build(dir, { out: "app", source: program("cyc1"), flags: ["-L.", "-lcyc1", ...rpath] });
  });

/** `app` is linked with `-z nodefaultlib`: ld.so must not look in the cache or default directories. */
export const nodeflibTree = () =>
  scenario("nodeflib", async (dir) => {
    await build(dir, { out: "app", source: "int main(void) { return 0; }\n", flags: ["-Wl,-z,nodefaultlib"] });
  });

/** `libconf.so.1` in `confdir/`, and an ld.so.conf naming that directory through an include glob. */
export const confTree = () =>
  scenario("conf", async (dir) => {
    await build(dir, { out: "confdir/libconf.so.1", soname: "libconf.so.1", source: lib("conf") });
    await build(dir, { out: "app", source: program("conf"), flags: ["-Lconfdir", "-l:libconf.so.1"] });
    await Deno.mkdir(`${dir}/conf.d`, { recursive: true });
    await Deno.writeTextFile(`${dir}/ld.so.conf`, "# test configuration\ninclude conf.d/*.conf\n");
    await Deno.writeTextFile(`${dir}/conf.d/a.conf`, `${dir}/confdir/\n`);
  });

/** One line of `ldd`: the name as requested and the path found (`null`: "not found"). */
export interface LddLine {
  name: string;
  path: string | null;
}

/**
 * What the host's ld.so loads for a program, from `ldd` (the vDSO and the interpreter left out).
 *
 * @param program host path
 * @returns one entry per library, in ldd's order
 */
export async function ldd(program: string): Promise<LddLine[]> {
  const out = await new Deno.Command("ldd", { args: [program], stdout: "piped", stderr: "piped" }).output();
  const lines: LddLine[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\s*(\S+) => (?:not found|(\S+) \(0x[0-9a-f]+\))\s*$/.exec(line);
    if (m) lines.push({ name: m[1]!, path: m[2] ?? null });
  }
  return lines;
}

/** Whether a tool is on the PATH. */
export async function hasTool(name: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}
