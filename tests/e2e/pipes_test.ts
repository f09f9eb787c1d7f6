/**
 * Pipes, eventfd, signalfd and POSIX timers (tests/guest/pipes.c) in osv, checked against the same
 * program on the host (Linux is the oracle), built with static glibc, static musl and dynamic glibc,
 * under every accelerator; and SIGPIPE's default action on a write to a pipe nobody reads.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, type Libc, onHost } from "./_harness.ts";

const libcs: Libc[] = ["glibc", "musl", "glibc-dynamic"];

for (const accel of accelerators()) {
  for (const libc of libcs) {
    Deno.test(`pipes, eventfd, signalfd and POSIX timers (${libc}) match Linux [${accel}]`, async () => {
      const program = await guestProgram("pipes", libc);
      const image = await buildImage(program);
      const [guest, host] = await Promise.all([boot(image, { accel }), onHost(program)]);
      assert.equal(host.code, 0, host.stdout);
      assert.match(host.stdout, /checks passed\n$/);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 0, guest.stderr);
    });
  }

  Deno.test(`a write to a pipe without readers ends the app with SIGPIPE's status 141 [${accel}]`, async () => {
    const program = await guestProgram("pipes");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: "/pipes --sigpipe" }),
      onHost(program, ["--sigpipe"]),
    ]);
    assert.equal(host.code, 141);
    assert.equal(guest.code, 141, guest.stdout);
    assert.doesNotMatch(guest.stdout, /still alive/);
  });
}
