/**
 * TCP under load from the host, through a port forward on QEMU's user-mode network: wrk with 100
 * connections against the epoll HTTP server of the benchmark (bench/guest/http_bench_server.c) must
 * see no socket error and no bad answer, and a GiB goes each way between the host and
 * `net_bulk serve` (tests/guest/net_bulk.c), checked by checksum at the far end. Correctness checks:
 * speed is never asserted.
 */

import assert from "node:assert/strict";
import { ensureHostTools } from "../../core/setup.ts";
import { wrk, WRK_TIMEOUT_S } from "../../bench/_net.ts";
import { accelerators, guestProgram, ROOT, run, work } from "./_harness.ts";
import { bootWithNetwork, bulkGet, bulkPut, bulkQuit, freePort, NET_MACHINES } from "./_net.ts";

const { machine, nic } = NET_MACHINES["microvm, modern virtio-mmio"];

/** Bytes moved each way: a GiB under TCG; 4 MiB under kvm, where kvm_pvm emulates kernel code (about
 * 0.3 MB/s through the user-mode network) so a GiB would take about an hour. */
const bulkBytes = (accel: string) => accel === "kvm" ? 4 << 20 : 1 << 30;
/** After this long the guest is stopped, which ends a stalled transfer short (both ways take about
 * 2 minutes under TCG, 1 under kvm). */
const BULK_LIMIT_MS = 15 * 60_000;

async function httpBenchServer(): Promise<string> {
  const out = `${await work()}/http_bench_server`;
  const result = await run("gcc", ["-static", "-O2", "-o", out, `${ROOT}bench/guest/http_bench_server.c`]);
  if (result.code !== 0) throw new Error(`gcc http_bench_server.c failed:\n${result.stderr}`);
  return out;
}

for (const accel of accelerators()) {
  Deno.test(`wrk -c 100 against an HTTP server in osv: no socket errors, every answer 200 [${accel}]`, async () => {
    await ensureHostTools(["wrk"]);
    const port = freePort();
    const guest = await bootWithNetwork({
      accel,
      machine,
      nic,
      program: await httpBenchServer(),
      cmdline: "--verbose /app 8080",
      forwards: [{ host: port, guest: 8080 }],
    });
    try {
      await guest.waitFor(/listening on 8080/, 60_000);
      const result = await wrk(`http://127.0.0.1:${port}/`, 3);
      assert.ok(result.requests > 0, result.output);
      assert.equal(result.errors, 0, `wrk (--timeout ${WRK_TIMEOUT_S}s) counted errors:\n${result.output}`);
      const quit = await fetch(`http://127.0.0.1:${port}/quit`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(await quit.text(), "Hello, world!");
      assert.equal(await guest.status, 1, `QEMU exit (1 = app exit 0):\n${guest.output()}`);
      assert.match(guest.output(), /http_bench_server: done/);
    } finally {
      guest.kill();
      await guest.status;
    }
  });

  Deno.test(`a bulk TCP transfer each way between the host and osv arrives intact (1 GiB on TCG) [${accel}]`, async () => {
    const port = freePort();
    const bytes = bulkBytes(accel);
    const guest = await bootWithNetwork({
      accel,
      machine,
      nic,
      program: await guestProgram("net_bulk"),
      cmdline: "--verbose /app serve 9000",
      forwards: [{ host: port, guest: 9000 }],
    });
    const limit = setTimeout(() => guest.kill(), BULK_LIMIT_MS);
    try {
      await guest.waitFor(/net_bulk: listening on 9000/, 60_000);
      const up = await bulkPut(port, bytes);
      assert.deepEqual([up.bytes, up.checksum], [bytes, up.expected], "host -> osv");
      const down = await bulkGet(port, bytes);
      assert.deepEqual([down.bytes, down.checksum], [bytes, down.expected], "osv -> host");
      await bulkQuit(port);
      assert.equal(await guest.status, 1, `QEMU exit (1 = app exit 0):\n${guest.output()}`);
      assert.match(guest.output(), /net_bulk: done/);
    } finally {
      clearTimeout(limit);
      guest.kill();
      await guest.status;
    }
  });
}
