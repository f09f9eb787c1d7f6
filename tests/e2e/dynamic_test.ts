/**
 * Dynamically linked glibc programs in osv: Debian's own ld.so loads libc.so.6 from the image (both put
 * there from the host with `--add`, the image's main program being a static one), checked against the
 * same binaries run on the host. Also ld.so started as the program, and the vDSO.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, dynamicLibraries, guestProgram, type Libc, onHost, work } from "./_harness.ts";

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

/** Debian's own tools from the host, unchanged. */
const TOOLS = ["/usr/bin/ls", "/usr/bin/cat", "/usr/bin/sha256sum"];

let toolsImage: Promise<{ image: string; big: string; small: string }> | undefined;

/** An image with the tools at /bin, their libraries, and two data files at /data. */
function debianToolsImage() {
  toolsImage ??= (async () => {
    const dir = await work();
    const big = `${dir}/tools-big.bin`, small = `${dir}/tools-small.txt`;
    await Deno.writeFile(big, Uint8Array.from({ length: 70000 }, (_, i) => (i * 2654435761) >>> 24));
    await Deno.writeTextFile(small, "a small text file\nwith two lines\n");
    const extra = ["--add", `${big}:/data/big.bin`, "--add", `${small}:/data/small.txt`];
    for (const tool of TOOLS) extra.push("--add", `${tool}:/bin/${tool.slice(tool.lastIndexOf("/") + 1)}`);
    for (const tool of TOOLS) extra.push(...await dynamicLibraries(tool));
    return { image: await buildImage(await guestProgram("args_env"), extra), big, small };
  })();
  return toolsImage;
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

  Deno.test(`Debian's cat, sha256sum and ls run unchanged [${accel}]`, async () => {
    const { image, big, small } = await debianToolsImage();
    const [cat, sum, ls, long, hostSum] = await Promise.all([
      boot(image, { accel, cmdline: "/bin/cat /data/small.txt" }),
      boot(image, { accel, cmdline: "/bin/sha256sum /data/big.bin" }),
      boot(image, { accel, cmdline: "/bin/ls -1 /data" }),
      boot(image, { accel, cmdline: "/bin/ls -la /data" }),
      onHost("/usr/bin/sha256sum", [big]),
    ]);
    assert.equal(cat.stdout, await Deno.readTextFile(small));
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(sum.stdout, hostSum.stdout.replace(big, "/data/big.bin"));
    assert.equal(sum.code, 0, sum.stderr);
    assert.equal(ls.stdout, "big.bin\nsmall.txt\n");
    assert.equal(ls.code, 0, ls.stderr);
    // Owner names come from the generated /etc/passwd and /etc/group (osv:etc).
    assert.match(
      long.stdout,
      /^total \d+\ndrwxr-xr-x .* \.\n.* \.\.\n-rw-r--r-- 1 root root 70000 .* big\.bin\n-rw-r--r-- 1 root root +33 .* small\.txt\n$/,
    );
    assert.equal(long.code, 0, long.stderr);
  });
}
