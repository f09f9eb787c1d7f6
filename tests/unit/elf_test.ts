import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { assertRunnableStatic, ElfError, parseElf, readElf } from "../../core/elf.ts";
import { dynamicHello, staticHello } from "./_helpers.ts";

Deno.test("readElf() accepts a static x86-64 executable built with gcc -static", async () => {
  const info = await readElf(await staticHello());
  assertEquals(info.machine, 62);
  assertEquals(info.interpreter, null);
  assertRunnableStatic(info);
});

Deno.test("a dynamic executable is refused with a hint to link with -static", async () => {
  const info = await readElf(await dynamicHello());
  assertEquals(info.interpreter?.includes("ld-linux"), true);
  const err = assertThrows(() => assertRunnableStatic(info), ElfError);
  assertEquals(err.message.startsWith("dynamic executables are not supported yet"), true);
  assertEquals(err.message.endsWith("link with -static"), true);
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
  const bytes = (await Deno.readFile(await staticHello())).slice(0, 8192);
  new DataView(bytes.buffer).setUint16(18, 183, true); // aarch64
  assertEquals(
    assertThrows(() => assertRunnableStatic(parseElf(bytes))).message,
    "not an x86-64 ELF file (machine 183)",
  );
});

Deno.test("readElf() of a missing file rejects with NotFound", async () => {
  await assertRejects(() => readElf("/nonexistent/binary"), Deno.errors.NotFound);
});
