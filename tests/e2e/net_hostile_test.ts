/**
 * Hostile frames against a running guest: osv with the C HTTP server on a tap device inside a network
 * namespace the test makes and deletes (root only; nothing leaves the namespace). From the namespace,
 * net_hostile_frames.py sends through a raw AF_PACKET socket malformed and truncated frames, bad
 * checksums and header lengths, overlapping and never-completed IP fragments, an HTTP request in
 * overlapping and out-of-window TCP segments on a connection of its own (whose answer must be intact),
 * and a SYN flood; then curl must still get correct answers at once (its handshake completes through a
 * SYN cookie while the flood holds the half-open queue) and the guest's counters (--verbose, at exit)
 * must show the half-open queue stayed within its bound.
 */

import assert from "node:assert/strict";
import { ensureHostTools } from "../../core/setup.ts";
import { probeKvm } from "../../core/host.ts";
import { accelerators, guestProgram, ROOT, run } from "./_harness.ts";
import { bootWithNetwork, NET_MACHINES, withTapNamespace } from "./_net.ts";

const isRoot = Deno.uid() === 0;
const GUEST_MAC = "02:00:00:00:77:02";
/** http_server.c listens with a backlog of 16; the kernel keeps at most twice that half-open. */
const HALF_OPEN_BOUND = 32;

for (const accel of accelerators()) {
  // Under kvm_pvm every kernel instruction is emulated: fewer SYNs, still many times the bound.
  const synCount = accel === "kvm" && probeKvm().pvm ? 2_000 : 20_000;
  Deno.test({
    name:
      `a guest on a tap device survives malformed frames, fragments, mangled TCP and a SYN flood of ${synCount} [${accel}]`,
    ignore: !isRoot,
    async fn() {
      await ensureHostTools(["iproute2", "curl", "python3"]);
      await withTapNamespace(async (ns) => {
        const guest = await bootWithNetwork({
          accel,
          machine: NET_MACHINES["pc, virtio-net-pci"].machine,
          nic: ["-device", `virtio-net-pci,netdev=n0,mac=${GUEST_MAC}`],
          program: await guestProgram("http_server"),
          cmdline: "--verbose --ip=eth0,192.168.77.2,255.255.255.0 --defaultgw=192.168.77.1 /app 8080",
          tap: { namespace: ns, device: "tap0" },
        });
        try {
          await guest.waitFor(/http_server: listening on port 8080/, 60_000);
          const inNs = (cmd: string, ...args: string[]) => run("ip", ["netns", "exec", ns, cmd, ...args]);
          const base = "http://192.168.77.2:8080";
          assert.equal(
            (await inNs("curl", "-s", "-m", "60", `${base}/hello`)).stdout,
            "hello from 192.168.77.1 to 192.168.77.2\n",
          );

          const hostile = await inNs(
            "python3",
            `${ROOT}tests/e2e/net_hostile_frames.py`,
            "tap0",
            "192.168.77.2",
            GUEST_MAC,
            "8080",
            String(synCount),
          );
          assert.equal(hostile.code, 0, `${hostile.stdout}${hostile.stderr}\nconsole:\n${guest.output()}`);
          assert.match(hostile.stdout, /hostile: request in mangled segments answered/);
          assert.match(hostile.stdout, /hostile: done/);

          // The flood fills the half-open queue; beyond it SYNs get stateless SYN cookies, so curl's
          // handshake completes through a cookie without waiting for the flood's entries to time out.
          const hello = await inNs("curl", "-s", "--connect-timeout", "120", "-m", "180", `${base}/hello`);
          assert.equal(hello.stdout, "hello from 192.168.77.1 to 192.168.77.2\n", guest.output());
          const bytes = await run("sh", ["-c", `ip netns exec ${ns} curl -s -m 120 ${base}/bytes/100000 | wc -c`]);
          assert.equal(bytes.stdout.trim(), "100000");
          assert.equal((await inNs("curl", "-s", "-m", "60", `${base}/quit`)).stdout, "bye\n");
          assert.equal(await guest.status, 1, guest.output());

          const out = guest.output();
          const counters = out.match(/syn dropped (\d+) half-open peak (\d+) syn cookies (\d+)\/(\d+)/);
          assert.ok(counters, `no TCP counters on the console:\n${out}`);
          const [dropped, peak, cookies] = [Number(counters[1]), Number(counters[2]), Number(counters[3])];
          assert.ok(cookies > 0, "SYNs beyond the half-open queue were answered with cookies");
          assert.ok(Number(counters[4]) >= 1, "curl's connection came in through a cookie");
          assert.ok(peak <= HALF_OPEN_BOUND, `half-open peak ${peak} above ${HALF_OPEN_BOUND}`);
          assert.ok(peak >= 1 && dropped > 0, `the flood reached the listener (dropped ${dropped}, peak ${peak})`);
          console.log(
            `${hostile.stdout.trim()}\nguest: ${dropped} SYNs beyond the queue, half-open peak ${peak}, ${cookies} cookies`,
          );
          const bad = out.match(/osv: net: ip in \d+ out \d+ bad (\d+)\/(\d+)/);
          assert.ok(bad && Number(bad[1]) > 0 && Number(bad[2]) > 0, "bad headers and checksums were counted");
          assert.doesNotMatch(out, /panic|page fault|assert/i);
        } finally {
          guest.kill();
          await guest.status;
        }
      });
    },
  });
}
