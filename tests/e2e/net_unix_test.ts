/**
 * AF_UNIX sockets inside osv, checked against the same static binary on the host (Linux is the
 * oracle): tests/guest/net_unix.c covers socketpair, path and abstract names, connect/accept with a
 * thread blocked in accept, datagrams between named sockets, shutdown and close as the peer sees them,
 * poll and epoll, and a transfer with a checksum (8 MiB; 1 MiB under kvm, where kernel copies are
 * emulated instruction by instruction). tests/guest/net_ifreq.c: TCP_INFO of a loopback connection, the
 * SIOCGIF* ioctls on lo through both families, glibc's if_nametoindex/if_indextoname, and
 * sendmmsg/recvmmsg batches.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, onHost } from "./_harness.ts";

for (const accel of accelerators()) {
  Deno.test(`AF_UNIX sockets match Linux: pairs, names, accept, datagrams, poll, epoll, a transfer [${accel}]`, async () => {
    const program = await guestProgram("net_unix");
    const image = await buildImage(program);
    const bytes = accel === "kvm" ? String(1 << 20) : String(8 << 20);
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: `/net_unix ${bytes}` }),
      onHost(program, [bytes]),
    ]);
    assert.equal(host.code, 0, host.stdout);
    assert.match(host.stdout, /done\n$/);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });

  Deno.test(`TCP_INFO (timestamps, SACK, window scaling), interface ioctls, if_nametoindex, sendmmsg and recvmmsg match Linux [${accel}]`, async () => {
    const program = await guestProgram("net_ifreq");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([boot(image, { accel, cmdline: "/net_ifreq" }), onHost(program, [])]);
    assert.equal(host.code, 0, host.stdout);
    assert.match(host.stdout, /done\n$/);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });
}
