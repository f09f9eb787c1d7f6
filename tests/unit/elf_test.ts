import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import {
  assertRunnable,
  DF_1_NODEFLIB,
  ElfError,
  identifyElf,
  parseElf,
  PT_DYNAMIC,
  readDynamicSymbols,
  readElf,
} from "../../core/elf.ts";
import { sh } from "./_helpers.ts";
import { ensureHostTools } from "../../core/setup.ts";
import { dynamicHello, staticHello } from "./_helpers.ts";
import { archTree, inheritTree, nodeflibTree, originTree } from "./_libs.ts";

Deno.test("readElf() accepts a static x86-64 executable built with gcc -static", async () => {
  const info = await readElf(await staticHello());
  assertEquals(info.machine, 62);
  assertEquals(info.interpreter, null);
  assertRunnable(info);
});

Deno.test("a dynamic executable is runnable and names its interpreter and libc", async () => {
  const info = await readElf(await dynamicHello());
  assertEquals(info.interpreter, "/lib64/ld-linux-x86-64.so.2");
  assertEquals(info.dynamic?.needed, ["libc.so.6"]);
  assertRunnable(info);
});

Deno.test("the dynamic section gives DT_NEEDED, DT_SONAME, DT_RUNPATH, DT_RPATH and DT_FLAGS_1", async () => {
  const origin = await originTree();
  const foo = await readElf(`${origin}/lib/libfoo.so.1`);
  assertEquals(foo.type, "dyn");
  assertEquals(foo.dynamic, {
    needed: ["libdep.so.1"], // linked --as-needed: libfoo calls nothing of libc
    soname: "libfoo.so.1",
    rpath: null,
    runpath: "$ORIGIN",
    flags1: 0,
  });
  const inherit = await inheritTree();
  const rpathApp = await readElf(`${inherit}/rpath/app`);
  assertEquals([rpathApp.dynamic?.rpath, rpathApp.dynamic?.runpath], [`${inherit}/r1`, null]);
  const nodeflib = await readElf(`${await nodeflibTree()}/app`);
  assert(((nodeflib.dynamic?.flags1 ?? 0) & DF_1_NODEFLIB) !== 0);
});

Deno.test("identifyElf() tells the class, machine and type without judging", async () => {
  const head32 = (await Deno.readFile(`${await archTree()}/w32/libwa.so`)).subarray(0, 64);
  assertEquals(identifyElf(head32), { bits: 32, littleEndian: true, machine: 3, type: "dyn" });
  const head64 = (await Deno.readFile(await dynamicHello())).subarray(0, 64);
  assertEquals(identifyElf(head64)?.bits, 64);
  assertEquals(identifyElf(new TextEncoder().encode("\x7fELF")), null);
});

Deno.test("garbage is not an ELF file", () => {
  assertEquals(assertThrows(() => parseElf(new TextEncoder().encode("#!/bin/sh\n"))).message, "not an ELF file");
});

Deno.test("a truncated ELF header is reported as truncated", async () => {
  const bytes = (await Deno.readFile(await staticHello())).subarray(0, 40);
  assertEquals(assertThrows(() => parseElf(bytes)).message, "truncated ELF file (no complete header)");
});

Deno.test("a 32-bit ELF is refused", () => {
  const bytes = new Uint8Array(64);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  assertEquals(assertThrows(() => parseElf(bytes)).message, "32-bit ELF files are not supported (need x86-64)");
});

Deno.test("an ELF for another machine is refused", async () => {
  const bytes = (await Deno.readFile(await staticHello())).slice();
  new DataView(bytes.buffer).setUint16(18, 183, true); // aarch64
  assertEquals(
    assertThrows(() => assertRunnable(parseElf(bytes))).message,
    "not an x86-64 ELF file (machine 183)",
  );
});

Deno.test("readElf() of a missing file rejects with NotFound", async () => {
  await assertRejects(() => readElf("/nonexistent/binary"), Deno.errors.NotFound);
});

/** A copy of libfoo.so.1 and the file offset of each of its dynamic entries, by tag. */
async function dynamicEntries(): Promise<
  { bytes: Uint8Array; view: DataView; at: (tag: number) => number; end: number }
> {
  const bytes = await Deno.readFile(`${await originTree()}/lib/libfoo.so.1`);
  const view = new DataView(bytes.buffer);
  const dyn = parseElf(bytes).programHeaders.find((p) => p.type === PT_DYNAMIC)!;
  const at = (tag: number) => {
    for (let off = dyn.offset; off < dyn.offset + dyn.fileSize; off += 16) {
      if (view.getBigInt64(off, true) === BigInt(tag)) return off;
    }
    throw new Error(`no tag ${tag}`);
  };
  return { bytes, view, at, end: dyn.offset + dyn.fileSize };
}

Deno.test("a corrupt dynamic section is an ElfError saying what is wrong", async () => {
  const message = (bytes: Uint8Array) => assertThrows(() => parseElf(bytes), ElfError).message;
  {
    const { bytes, view, at } = await dynamicEntries();
    view.setBigUint64(at(5) + 8, 0x7fff00000000n, true); // DT_STRTAB nowhere
    assertEquals(message(bytes), "bad dynamic section (DT_STRTAB address 0x7fff00000000 is in no loadable segment)");
  }
  {
    const { bytes, view, at } = await dynamicEntries();
    view.setBigUint64(at(1) + 8, 0xffffffn, true); // DT_NEEDED name past the table
    assertEquals(
      message(bytes),
      "bad dynamic section (name at 16777215 is past the string table of " +
        `${view.getBigUint64(at(10) + 8, true)} bytes)`,
    );
  }
  {
    const { bytes, view, at, end } = await dynamicEntries();
    for (let off = at(0); off < end; off += 16) view.setBigInt64(off, 21n, true); // every DT_NULL now DT_DEBUG
    assertEquals(message(bytes), "bad dynamic section (no DT_NULL before its end)");
  }
  {
    const { bytes, at } = await dynamicEntries();
    assertEquals(message(bytes.subarray(0, at(1))), "truncated ELF file (dynamic section past the end of the file)");
  }
  {
    const { bytes, view } = await dynamicEntries();
    view.setUint16(56, 60000, true); // e_phnum
    assertEquals(message(bytes), "too many program headers (60000)");
  }
});

Deno.test("an empty interpreter path is refused", async () => {
  const info = { ...await readElf(await dynamicHello()), interpreter: "" };
  assertEquals(assertThrows(() => assertRunnable(info)).message, "ELF file has an empty interpreter path (PT_INTERP)");
});

Deno.test("readDynamicSymbols() lists the defined dynamic symbols as nm -D --defined-only does", async () => {
  await ensureHostTools(["binutils"]);
  for (const file of ["/lib/x86_64-linux-gnu/libc.so.6", await dynamicHello()]) {
    const { stdout } = await sh("nm", ["-D", "--defined-only", "--format=just-symbols", file]);
    const expected = stdout.split("\n").filter((l) => l !== "").map((l) => l.replace(/@.*$/, "")).sort();
    assertEquals((await readDynamicSymbols(file)).sort(), expected, file);
  }
  assertEquals(await readDynamicSymbols(await staticHello()), []);
  await assertRejects(() => readDynamicSymbols("/etc/hostname"), ElfError);
});
