/**
 * Networking end to end from the host: a static C HTTP server (tests/guest/http_server.c) runs in osv
 * with a virtio-net NIC on QEMU's user-mode network (restricted: only port forwards from 127.0.0.1),
 * gets its address by DHCP, and answers `fetch` through a port forward — small answers, a megabyte
 * down, 300 KB up — on virtio-pci (pc) and virtio-mmio (microvm, legacy and modern).
 */

import assert from "node:assert/strict";
import { accelerators, guestProgram } from "./_harness.ts";
import { bootWithNetwork, freePort, NET_MACHINES } from "./_net.ts";

function fnv1a(data: Uint8Array): string {
  let h = 2166136261;
  for (const byte of data) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
}

async function get(url: string, init: RequestInit = {}): Promise<Response> {
  return await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
}

for (const accel of accelerators()) {
  for (const [label, { machine, nic }] of Object.entries(NET_MACHINES)) {
    Deno.test(`an HTTP server in osv answers the host through a port forward, address from DHCP (${label}) [${accel}]`, async () => {
      const port = freePort();
      const guest = await bootWithNetwork({
        accel,
        machine,
        nic,
        program: await guestProgram("http_server"),
        cmdline: "--verbose --bootchart /app 8080",
        forwards: [{ host: port, guest: 8080 }],
      });
      try {
        await guest.waitFor(/http_server: listening on port 8080/, 60_000);
        const base = `http://127.0.0.1:${port}`;
        const hello = await get(`${base}/hello`);
        assert.equal(hello.status, 200);
        assert.equal(await hello.text(), "hello from 10.0.2.2 to 10.0.2.15\n");

        const size = 1_000_000;
        const bytes = new Uint8Array(await (await get(`${base}/bytes/${size}`)).arrayBuffer());
        assert.equal(bytes.length, size);
        const expected = new Uint8Array(size);
        for (let i = 0; i < size; i++) expected[i] = (i * 7 + 3) & 0xff;
        assert.ok(bytes.every((b, i) => b === expected[i]), "the megabyte came through intact");

        const body = new Uint8Array(300_000);
        for (let at = 0; at < body.length; at += 65536) crypto.getRandomValues(body.subarray(at, at + 65536));
        const sum = await get(`${base}/sum`, { method: "POST", body });
        assert.equal(await sum.text(), `${body.length} ${fnv1a(body)}\n`);

        const missing = await get(`${base}/nothing`);
        assert.equal(missing.status, 404);
        await missing.body?.cancel();

        assert.equal(await (await get(`${base}/quit`)).text(), "bye\n");
        const status = await guest.status;
        const out = guest.output();
        assert.equal(status, 1, `QEMU exit ${status} (1 = app exit 0):\n${out}`);
        assert.match(out, /osv: virtio-net eth0: mac 52:54:00:12:34:56/);
        assert.match(out, /osv: dhcp: eth0: lease 10\.0\.2\.15\/255\.255\.255\.0 .* from 10\.0\.2\.2/);
        assert.match(out, /^ {2}dhcp {2,}\d+\.\d+ms/m, "--bootchart shows the DHCP phase");
        assert.match(out, /http_server: done/);
      } finally {
        guest.kill();
        await guest.status;
      }
    });
  }
}
