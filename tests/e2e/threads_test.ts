/**
 * Threads, futexes, signals and preemption in osv, checked against the same programs run on the host
 * (Linux is the oracle): tests/guest/threads.c (pthreads), futex.c (the syscall directly), signals.c
 * (handlers, masks, faults, alternate stacks, SA_RESTART, timers) and preempt.c (busy threads), each
 * built with static glibc, static musl and dynamic glibc (ld.so and libc.so.6 from the host), under
 * every accelerator. Then the default
 * actions of fatal signals (exit status 128 + signal) and the clean failure of fork and friends.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, type Libc, onHost } from "./_harness.ts";

const programs: { name: string; what: string }[] = [
  { name: "threads", what: "pthreads: join, detach, TLS, mutex/condvar/barrier/rwlock with 8 threads, cancel" },
  { name: "futex", what: "futex: wait/wake, bitsets, requeue, wake_op, timeouts, EINTR, PI, robust lists" },
  { name: "signals", what: "signals: handlers, masks, faults, sigaltstack, SA_RESTART, timers, threads" },
  { name: "preempt", what: "preemption: busy threads do not starve others; CPU clocks" },
];

const libcs: Libc[] = ["glibc", "musl", "glibc-dynamic"];

for (const accel of accelerators()) {
  for (const { name, what } of programs) {
    for (const libc of libcs) {
      Deno.test(`${what} (${libc}) match Linux [${accel}]`, async () => {
        const program = await guestProgram(name, libc);
        // A dynamic build brings its ld.so, libc.so.6 and, with no --lib, the libgcc_s that glibc
        // dlopen()s for pthread_exit and pthread_cancel (unwinding).
        const image = await buildImage(program);
        const [guest, host] = await Promise.all([boot(image, { accel }), onHost(program)]);
        assert.equal(host.code, 0, host.stdout);
        assert.match(host.stdout, /checks passed\n$/);
        assert.equal(guest.stdout, host.stdout);
        assert.equal(guest.code, 0, guest.stderr);
      });
    }
  }

  Deno.test(`fatal signals end the app with 128 + signal, as a shell reports it [${accel}]`, async () => {
    const program = await guestProgram("signals");
    const image = await buildImage(program);
    const cases: [string, number][] = [["sigpipe", 141], ["term", 143], ["abort", 134], ["segv", 139]];
    for (const [how, code] of cases) {
      const [guest, host] = await Promise.all([
        boot(image, { accel, cmdline: `/signals --die=${how}` }),
        onHost(program, [`--die=${how}`]),
      ]);
      assert.equal(host.code, code, `host --die=${how}`);
      assert.equal(guest.code, code, `--die=${how}: ${guest.stdout}`);
      assert.doesNotMatch(guest.stdout, /still alive|not reached/);
    }
    const loud = await boot(image, { accel, cmdline: "--verbose /signals --die=sigpipe" });
    assert.match(loud.stdout, /\/signals terminated by SIGPIPE/);
    const segv = await boot(image, { accel, cmdline: "/signals --die=segv" });
    assert.match(segv.stdout, /terminated by SIGSEGV: page fault at address 8 \(write, not mapped\)/);
  });

  Deno.test(`the process outlives its main thread and ends with its last thread's status [${accel}]`, async () => {
    const program = await guestProgram("threads");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: "/threads --main-exits" }),
      onHost(program, ["--main-exits"]),
    ]);
    assert.equal(host.code, 7);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 7, guest.stdout);
  });

  Deno.test(`fork, posix_spawn and clone of a process fail with ENOSYS, named by --verbose [${accel}]`, async () => {
    const image = await buildImage(await guestProgram("threads"));
    const guest = await boot(image, { accel, cmdline: "--verbose /threads --fork" });
    assert.equal(guest.code, 0, guest.stdout);
    assert.match(guest.stdout, /fork=-1 errno=ENOSYS\nposix_spawn=ENOSYS\nclone\(SIGCHLD\)=-1 errno=ENOSYS\n/);
    assert.match(
      guest.stdout,
      /clone of a new process \(fork, vfork, posix_spawn\) is not supported: returning ENOSYS/,
    );
  });
}
