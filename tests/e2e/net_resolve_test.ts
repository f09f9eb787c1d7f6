/**
 * glibc's resolver inside osv, against the same dynamic binary on the host: getaddrinfo over the
 * generated /etc/hosts and numeric forms, service and protocol names from the /etc/services and
 * /etc/protocols copied from the host, getnameinfo (tests/guest/net_resolve.c). No DNS query is made.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, onHost } from "./_harness.ts";

for (const accel of accelerators()) {
  Deno.test(`getaddrinfo, getservbyname, getprotobyname and getnameinfo match Linux (glibc dynamic) [${accel}]`, async () => {
    const program = await guestProgram("net_resolve", "glibc-dynamic");
    const image = await buildImage(program);
    const [guest, host] = await Promise.all([boot(image, { accel, cmdline: "/net_resolve" }), onHost(program, [])]);
    assert.equal(host.code, 0, host.stdout);
    assert.match(host.stdout, /done\n$/);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });
}
