/**
 * Static Linux programs in osv, checked against the same binaries run on the host (Linux is the oracle),
 * under every accelerator and on both QEMU machine types.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, type Libc, onHost } from "./_harness.ts";

for (const accel of accelerators()) {
  for (const libc of ["glibc", "musl"] as Libc[]) {
    Deno.test(`a static ${libc} program gets its argv and env and exits with its status [${accel}]`, async () => {
      const program = await guestProgram("args_env", libc);
      const image = await buildImage(program);
      const cmdline =
        `--env=OSV_TEST_COLOR=blue --env=OSV_TEST_EMPTY= /args_env 7 'two words' "dq \\"x\\"" back\\ slash`;
      const guest = await boot(image, { accel, cmdline });
      const host = await onHost(program, ["7", "two words", 'dq "x"', "back slash"], {
        OSV_TEST_COLOR: "blue",
        OSV_TEST_EMPTY: "",
      });
      assert.equal(host.code, 7);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 7, guest.stderr);
    });

    Deno.test(`memory: malloc 1 KiB..64 MiB, brk and mmap behave as on Linux (${libc}) [${accel}]`, async () => {
      const program = await guestProgram("memory", libc);
      const image = await buildImage(program);
      const [guest, host] = await Promise.all([boot(image, { accel, mem: "256M" }), onHost(program)]);
      assert.equal(host.code, 0);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 0, guest.stderr);
    });
  }

  for (const hypervisor of ["qemu", "qemu-microvm"] as const) {
    Deno.test(`process environment syscalls match Linux on ${hypervisor} [${accel}]`, async () => {
      const program = await guestProgram("syscalls");
      const image = await buildImage(program);
      const [guest, host] = await Promise.all([boot(image, { accel, hypervisor }), onHost(program)]);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 0, guest.stderr);
    });
  }

  Deno.test(`character devices (/dev/null, zero, full, urandom) behave as on Linux [${accel}]`, async () => {
    const program = await guestProgram("devices");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([boot(image, { accel }), onHost(program)]);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });

  Deno.test(`/proc and /sys files programs read are there and well formed [${accel}]`, async () => {
    const program = await guestProgram("procfs");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: "--env=OSV_PROC_TEST=yes /procfs a b" }),
      onHost(program, ["a", "b"], { OSV_PROC_TEST: "yes" }),
    ]);
    assert.doesNotMatch(host.stdout, /=0/); // every property holds on Linux
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });

  Deno.test(`identity and scheduling queries (umask, prctl, affinity, sysinfo, rusage) match Linux [${accel}]`, async () => {
    const program = await guestProgram("identity");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([boot(image, { accel }), onHost(program)]);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });

  Deno.test(`an exit status above 127 comes back whole [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("args_env"));
    const guest = await boot(image, { accel, cmdline: "/args_env 200" });
    assert.equal(guest.code, 200);
  });

  Deno.test(`hello runs in 16 MiB of memory [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("args_env"));
    const guest = await boot(image, { accel, mem: "16M", cmdline: "/args_env 0 small" });
    assert.equal(guest.stdout, "argc=3\nargv[1]=[0]\nargv[2]=[small]\n");
    assert.equal(guest.code, 0, guest.stderr);
  });
}
