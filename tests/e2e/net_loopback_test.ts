/**
 * Sockets over 127.0.0.1 inside osv, checked against the same static binaries on the host (Linux is
 * the oracle): UDP (tests/guest/net_udp.c), TCP with a multi-megabyte echo, half-close and
 * SO_REUSEADDR (net_tcp.c), readiness/error semantics of poll, select and the calls (net_poll.c), and
 * epoll (net_epoll.c).
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, onHost } from "./_harness.ts";

const programs: { name: string; args: string[]; what: string }[] = [
  { name: "net_udp", args: [], what: "UDP echo, truncation, fragments, connected sockets and errors" },
  { name: "net_tcp", args: ["2"], what: "TCP: non-blocking connect, 2 MiB echo, half-close, SO_REUSEADDR" },
  { name: "net_poll", args: [], what: "TCP readiness (poll, select), resets, refusals and options" },
  { name: "net_epoll", args: [], what: "epoll: level and edge triggered, one-shot, errors, an event-loop echo" },
];

for (const accel of accelerators()) {
  for (const { name, args, what } of programs) {
    Deno.test(`loopback sockets match Linux: ${what} [${accel}]`, async () => {
      const program = await guestProgram(name);
      const image = await buildImage(program);
      const [guest, host] = await Promise.all([
        boot(image, { accel, cmdline: [`/${name}`, ...args].join(" ") }),
        onHost(program, args),
      ]);
      assert.equal(host.code, 0, host.stdout);
      assert.match(host.stdout, /done\n$/);
      assert.equal(guest.stdout, host.stdout);
      assert.equal(guest.code, 0, guest.stderr);
    });
  }
}
