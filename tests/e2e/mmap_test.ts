/**
 * File mappings and the mmap family (tests/guest/mmap.c) in osv against Linux, built static (glibc,
 * musl) and dynamically linked (the same calls, with ld.so's own mappings around them).
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, dynamicLibraries, guestProgram, type Libc, onHost, work } from "./_harness.ts";

let files: Promise<{ big: string; small: string }> | undefined;

/** Two data files: one of several pages (page-aligned in the image, so mapped in place), one of less than a page. */
function dataFiles() {
  files ??= (async () => {
    const dir = await work();
    const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);
    const big = `${dir}/mmap-big.bin`, small = `${dir}/mmap-small.bin`;
    await Deno.writeFile(big, bytes(50000));
    await Deno.writeFile(small, bytes(3000));
    return { big, small };
  })();
  return files;
}

for (const accel of accelerators()) {
  for (const libc of ["glibc", "musl", "glibc-dynamic"] as Libc[]) {
    Deno.test(`mmap of files, mremap, madvise, mincore and maps lines match Linux (${libc}) [${accel}]`, async () => {
      const program = await guestProgram("mmap", libc);
      const { big, small } = await dataFiles();
      const extra = ["--add", `${big}:/data/big.bin`, "--add", `${small}:/data/small.bin`];
      let cmdline = "/mmap /data/big.bin /data/small.bin";
      let image;
      if (libc === "glibc-dynamic") {
        extra.push("--add", `${program}:/mmap_dynamic`, ...await dynamicLibraries(program));
        image = await buildImage(await guestProgram("args_env"), extra);
        cmdline = "/mmap_dynamic /data/big.bin /data/small.bin";
      } else {
        image = await buildImage(program, extra);
      }
      const [guest, host] = await Promise.all([boot(image, { accel, cmdline }), onHost(program, [big, small])]);
      assert.equal(host.code, 0, host.stderr);
      assert.match(host.stdout, /ld\.so pattern: head same=1 text same=1 rw same=1 bss zero=1\n/);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 0, guest.stderr);
    });
  }
}
