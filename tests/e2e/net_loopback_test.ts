/**
 * Sockets over 127.0.0.1 inside osv, checked against the same static binaries on the host (Linux is
 * the oracle): UDP (tests/guest/net_udp.c), TCP with a multi-megabyte echo, half-close and
 * SO_REUSEADDR (net_tcp.c), readiness/error semantics of poll, select and the calls (net_poll.c),
 * epoll (net_epoll.c), 1,000 connections open at once (net_many.c) and a 1 GiB transfer checked by
 * checksum (net_bulk.c).
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, onHost } from "./_harness.ts";

/** Mebibytes net_bulk moves, and connections net_many opens: the full GiB and 1,000 under TCG; less under
 * kvm, where kvm_pvm emulates kernel code (every segment's path through the stack) so slowly that a GiB
 * would take hours and 1,000 connections minutes of the suite. */
const bulkMib = (accel: string) => accel === "kvm" ? "4" : "1024";
const connections = (accel: string) => accel === "kvm" ? "100" : "1000";

const programs: { name: string; args: string[] | ((accel: string) => string[]); what: string }[] = [
  { name: "net_udp", args: [], what: "UDP echo, truncation, fragments, connected sockets and errors" },
  { name: "net_tcp", args: ["2"], what: "TCP: non-blocking connect, 2 MiB echo, half-close, SO_REUSEADDR" },
  { name: "net_poll", args: [], what: "TCP readiness (poll, select), resets, refusals and options" },
  { name: "net_epoll", args: [], what: "epoll: level and edge triggered, one-shot, errors, an event-loop echo" },
  {
    name: "net_many",
    args: (accel) => [connections(accel)],
    what: "1,000 TCP connections open at once (100 on kvm), data checked on each",
  },
  {
    name: "net_bulk",
    args: (accel) => [bulkMib(accel)],
    what: "a bulk TCP transfer checked by checksum (1 GiB on TCG)",
  },
];

for (const accel of accelerators()) {
  for (const { name, args: argsFor, what } of programs) {
    Deno.test(`loopback sockets match Linux: ${what} [${accel}]`, async () => {
      const args = typeof argsFor === "function" ? argsFor(accel) : argsFor;
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
