/**
 * Dynamically linked glibc programs in osv: Debian's own ld.so loads libc.so.6 from the image (both put
 * there from the host with `--add`, the image's main program being a static one), checked against the
 * same binaries run on the host. Also ld.so started as the program, and the vDSO.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, dynamicLibraries, guestProgram, type Libc, onHost } from "./_harness.ts";

const INTERPRETER = "/lib64/ld-linux-x86-64.so.2";

let image: Promise<{ image: string; hello: string; staticHello: string }> | undefined;

/** One image for the whole file: static hello as its program, dynamic hello at /hello_dynamic, and the libraries. */
function helloImage() {
  image ??= (async () => {
    const [hello, staticHello] = await Promise.all([
      guestProgram("hello", "glibc-dynamic"),
      guestProgram("hello", "glibc"),
    ]);
    const libraries = await dynamicLibraries(hello);
    const image = await buildImage(staticHello, ["--add", `${hello}:/hello_dynamic`, ...libraries]);
    return { image, hello, staticHello };
  })();
  return image;
}

for (const accel of accelerators()) {
  Deno.test(`a dynamically linked glibc program runs with ld.so and libc.so.6 from the host [${accel}]`, async () => {
    const { image, hello } = await helloImage();
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: `--env=OSV_TEST_GREETING=world /hello_dynamic 3 'two words'` }),
      onHost(hello, ["3", "two words"], { OSV_TEST_GREETING: "world" }),
    ]);
    assert.equal(host.code, 3);
    assert.match(host.stdout, /\[libc\.so\.6\]/);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 3, guest.stderr);
  });

  Deno.test(`ld.so started as the program loads the program itself [${accel}]`, async () => {
    const { image, hello } = await helloImage();
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: `${INTERPRETER} /hello_dynamic 5` }),
      onHost(INTERPRETER, [hello, "5"]),
    ]);
    assert.equal(host.code, 5);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 5, guest.stderr);
  });

  Deno.test(`a static glibc program finds the vDSO as on Linux [${accel}]`, async () => {
    const { image, staticHello } = await helloImage();
    const [guest, host] = await Promise.all([boot(image, { accel }), onHost(staticHello)]);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });

  for (const libc of ["glibc", "musl", "glibc-dynamic"] as Libc[]) {
    Deno.test(`the vDSO's functions agree with the syscalls around them (${libc}) [${accel}]`, async () => {
      const program = await guestProgram("vdso", libc);
      let image, cmdline = "/vdso";
      if (libc === "glibc-dynamic") {
        const libraries = await dynamicLibraries(program);
        image = await buildImage(await guestProgram("args_env"), ["--add", `${program}:/vdso_dynamic`, ...libraries]);
        cmdline = "/vdso_dynamic";
      } else {
        image = await buildImage(program);
      }
      const [guest, host] = await Promise.all([boot(image, { accel, cmdline }), onHost(program)]);
      assert.equal(host.code, 0, host.stderr);
      assert.match(host.stdout, /clock_gettime\(MONOTONIC\): ok=1 between syscalls=1/);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 0, guest.stderr);
    });
  }
}
