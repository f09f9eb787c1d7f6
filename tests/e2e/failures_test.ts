/**
 * What users see when things go wrong: a crashing app, a missing syscall, a bad ELF, a bad kernel
 * command line, a program that is not in the image. Clear messages and exit statuses, never a hang.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, osv, work } from "./_harness.ts";

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

Deno.test("osv build refuses a dynamically linked program with a clear hint", async () => {
  const dir = await work();
  const src = `${dir}/dyn.c`;
  await Deno.writeTextFile(src, "int main(void) { return 0; }\n");
  const compiled = await new Deno.Command("gcc", { args: ["-o", `${dir}/dyn`, src] }).output();
  assert.ok(compiled.success);
  const result = await osv("build", `${dir}/dyn`, "-o", `${dir}/dyn.img`);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /-static/);
});
