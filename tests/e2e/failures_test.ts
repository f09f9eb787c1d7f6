/**
 * What users see when things go wrong: a crashing app, a missing syscall, a bad ELF, a bad kernel
 * command line, a program that is not in the image. Clear messages and exit statuses, never a hang.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, dynamicLibraries, guestProgram, osv, work } from "./_harness.ts";
import { decodeImageHeader, HEADER_OFFSET } from "../../core/image.ts";

for (const accel of accelerators()) {
  Deno.test(`a segfaulting app is reported with address, RIP and symbol, exit 139 [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("segfault"));
    const guest = await boot(image, { accel });
    assert.equal(guest.code, 139);
    assert.match(guest.stdout, /about to crash\n/);
    assert.match(guest.stdout, /terminated by SIGSEGV: page fault at address 0 \(write, not mapped\)/);
    assert.match(guest.stdout, /at RIP [0-9a-f]+ <crash_here\+0x[0-9a-f]+>/);
    assert.match(guest.stdout, /RAX [0-9a-f]{16}/);
  });

  Deno.test(`a missing syscall returns ENOSYS and --verbose names it once [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("missing_syscall"));
    const quiet = await boot(image, { accel });
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stdout, "io_uring_setup=-1 errno=ENOSYS\nsyscall(1000)=-1 errno=ENOSYS\n");
    const loud = await boot(image, { accel, cmdline: "--verbose /missing_syscall" });
    assert.equal(loud.code, 0);
    assert.match(loud.stdout, /syscall 425 \(io_uring_setup\) is not implemented/);
    assert.match(loud.stdout, /unknown syscall 1000/);
  });

  Deno.test(`a bad kernel command line is an error with exit status 2 [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("args_env"));
    const unknown = await boot(image, { accel, cmdline: "--frobnicate /args_env" });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stdout, /unknown option "--frobnicate"/);
    const quote = await boot(image, { accel, cmdline: "/args_env 'unterminated" });
    assert.equal(quote.code, 2);
    assert.match(quote.stdout, /unterminated single quote/);
    const empty = await boot(image, { accel, cmdline: "--verbose" });
    assert.equal(empty.code, 2);
    assert.match(empty.stdout, /no program to run/);
  });

  Deno.test(`a program that is not in the image exits with 127 [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("args_env"));
    const missing = await boot(image, { accel, cmdline: "/no/such/program" });
    assert.equal(missing.code, 127);
    assert.match(missing.stdout, /cannot run \/no\/such\/program: no such file in the image/);
  });
}

Deno.test("osv build refuses a file that is not an ELF executable, and writes no image", async () => {
  const dir = await work();
  const bogus = `${dir}/not-an-elf`;
  await Deno.writeTextFile(bogus, "#!/bin/sh\necho hi\n");
  const out = `${dir}/bogus.img`;
  const result = await osv("build", bogus, "-o", out);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /not an ELF file/);
  await assert.rejects(Deno.stat(out));
});

Deno.test("osv build takes a dynamically linked program; --dry-run lists its interpreter and libc", async () => {
  const dir = await work();
  const src = `${dir}/dyn.c`;
  await Deno.writeTextFile(src, "int main(void) { return 0; }\n");
  const compiled = await new Deno.Command("gcc", { args: ["-o", `${dir}/dyn`, src] }).output();
  assert.ok(compiled.success);
  const listed = await osv("build", `${dir}/dyn`, "--dry-run");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^file 0755 \/dyn <- /m);
  // The interpreter's path as PT_INTERP names it, and libc, as on the host (links kept as links).
  const interp = /^(?:file \d{4}|link {5}) \/lib64(?:\/ld-linux-x86-64\.so\.2)? /m;
  assert.match(listed.stdout, interp);
  assert.match(listed.stdout, /^file \d{4} \S*\/libc\.so\.6 <- /m);
  assert.match(listed.stdout, /^file 0644 \/etc\/ld\.so\.cache /m);
  assert.match(listed.stdout, /^cmdline \/dyn$/m);
  const out = `${dir}/dyn.img`;
  const built = await osv("build", `${dir}/dyn`, "-o", out);
  assert.equal(built.code, 0, built.stderr);
  assert.ok((await Deno.stat(out)).size > 0);
});

Deno.test("osv build of a program whose library is missing names the library and writes no image", async () => {
  const dir = await work();
  await Deno.mkdir(`${dir}/missing-lib`, { recursive: true });
  const lib = `${dir}/missing-lib/libgone.so.1`;
  await Deno.writeTextFile(`${lib}.c`, "int gone(void) { return 0; }\n");
  await Deno.writeTextFile(`${dir}/missing-lib/app.c`, "int gone(void);\nint main(void) { return gone(); }\n");
  const gcc = (args: string[]) => new Deno.Command("gcc", { args, cwd: `${dir}/missing-lib` }).output();
  assert.ok((await gcc(["-shared", "-fPIC", "-Wl,-soname,libgone.so.1", "-o", lib, `${lib}.c`])).success);
  assert.ok((await gcc(["-o", "app", "app.c", "-L.", "-l:libgone.so.1"])).success);
  await Deno.remove(lib);
  const out = `${dir}/missing-lib/app.img`;
  const result = await osv("build", `${dir}/missing-lib/app`, "-o", out);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /library "libgone\.so\.1" needed by ".*\/app" was not found \(searched /);
  await assert.rejects(Deno.stat(out));
});

/** Overwrites bytes of the image's filesystem (the ramfs cpio archive) at the given offset in it. */
async function corruptFilesystem(image: string, at: number, bytes: Uint8Array): Promise<void> {
  const data = await Deno.readFile(image);
  const header = decodeImageHeader(data.subarray(0, HEADER_OFFSET + 8192), data.length, image);
  data.set(bytes, header.fsOffset + at);
  await Deno.writeFile(image, data);
}

for (const accel of accelerators()) {
  Deno.test(`a corrupt ramfs archive is reported by the kernel, exit 127, no hang [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("args_env"), ["--fs", "ramfs"]);
    await corruptFilesystem(image, 0, new TextEncoder().encode("BADMAG"));
    const badMagic = await boot(image, { accel });
    assert.equal(badMagic.code, 127);
    assert.match(badMagic.stdout, /ramfs: bad cpio magic at byte 0/);

    const truncated = await buildImage(await guestProgram("args_env"), ["--fs", "ramfs"]);
    // A file size field claiming 0xffffffff bytes: the entry runs past the end of the archive.
    await corruptFilesystem(truncated, 54, new TextEncoder().encode("FFFFFFFF"));
    const past = await boot(truncated, { accel });
    assert.equal(past.code, 127);
    assert.match(past.stdout, /ramfs: cpio entry at byte 0 runs past the end of the archive/);
  });
}

for (const accel of accelerators()) {
  Deno.test(`a program whose interpreter (PT_INTERP) is not in the image exits with 127 [${accel}]`, async () => {
    const dynamic = await guestProgram("args_env", "glibc-dynamic");
    const image = await buildImage(await guestProgram("args_env"), ["--add", `${dynamic}:/dynamic`]);
    const guest = await boot(image, { accel, cmdline: "/dynamic 3" });
    assert.equal(guest.code, 127);
    assert.match(
      guest.stdout,
      /cannot run \/dynamic: its interpreter \/lib64\/ld-linux-x86-64\.so\.2 is not in the image/,
    );
  });

  Deno.test(`a shared library missing from the image is reported by ld.so, exit 127 [${accel}]`, async () => {
    const dynamic = await guestProgram("args_env", "glibc-dynamic");
    // ld.so and its link, but not libc.so.6
    const loader = (await dynamicLibraries(dynamic)).filter((arg) => arg !== "--add" && /ld-linux/.test(arg))
      .flatMap((path) => ["--add", path]);
    const image = await buildImage(await guestProgram("args_env"), ["--add", `${dynamic}:/dynamic`, ...loader]);
    const guest = await boot(image, { accel, cmdline: "/dynamic 3" });
    assert.equal(guest.code, 127);
    assert.match(guest.stdout, /error while loading shared libraries: libc\.so\.6: cannot open shared object file/);
  });

  Deno.test(`reading a mapped page past the end of a file is SIGBUS, exit 135 [${accel}]`, async () => {
    const program = await guestProgram("mmap");
    const image = await buildImage(program);
    const guest = await boot(image, { accel, cmdline: "/mmap --sigbus /mmap" });
    assert.equal(guest.code, 135);
    assert.match(guest.stdout, /last byte of the file read=1\n/);
    assert.match(
      guest.stdout,
      /terminated by SIGBUS: page fault at address [0-9a-f]+ \(read, past the end of the mapped file\)/,
    );
  });
}
