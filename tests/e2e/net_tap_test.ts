/**
 * virtio-net with a tap backend, where QEMU offers checksum offload both ways (VIRTIO_NET_F_CSUM and
 * GUEST_CSUM) and TCP segmentation offload (HOST_TSO4), which user-mode networking never offers: the test makes a network namespace with a tap
 * device, boots osv inside it with a static address (--ip, --defaultgw, --nameserver), talks to the
 * HTTP server with curl from inside the namespace, and deletes the namespace. Skipped where network
 * namespaces cannot be made (not root).
 */

import assert from "node:assert/strict";
import { ensureHostTools } from "../../core/setup.ts";
import { accelerators, guestProgram, run } from "./_harness.ts";
import { bootWithNetwork, NET_MACHINES, withTapNamespace } from "./_net.ts";

const isRoot = Deno.uid() === 0;

for (const accel of accelerators()) {
  const { machine, nic } = NET_MACHINES["pc, virtio-net-pci"];
  Deno.test({
    name: `virtio-net with checksum offload on a tap device, static address (pc) [${accel}]`,
    ignore: !isRoot,
    async fn() {
      await ensureHostTools(["iproute2", "curl"]);
      await withTapNamespace(async (ns) => {
        const guest = await bootWithNetwork({
          accel,
          machine,
          nic,
          program: await guestProgram("http_server"),
          cmdline: "--verbose --ip=eth0,192.168.77.2,255.255.255.0 --defaultgw=192.168.77.1 " +
            "--nameserver=192.168.77.1 /app 8080",
          tap: { namespace: ns, device: "tap0" },
        });
        try {
          await guest.waitFor(/http_server: listening on port 8080/, 60_000);
          const curl = (...args: string[]) => run("ip", ["netns", "exec", ns, "curl", "-s", "-m", "30", ...args]);
          const base = "http://192.168.77.2:8080";
          assert.equal((await curl(`${base}/hello`)).stdout, "hello from 192.168.77.1 to 192.168.77.2\n");
          const sha = await run("sh", ["-c", `ip netns exec ${ns} curl -s -m 30 ${base}/bytes/1000000 | sha256sum`]);
          const expected = new Uint8Array(1_000_000);
          for (let i = 0; i < expected.length; i++) expected[i] = (i * 7 + 3) & 0xff;
          const digest = Array.from(
            new Uint8Array(await crypto.subtle.digest("SHA-256", expected)),
            (b) => b.toString(16).padStart(2, "0"),
          ).join("");
          assert.equal(sha.stdout.split(" ")[0], digest, "the megabyte came through intact");
          const body = "0123456789abcdef".repeat(4096); // 64 KiB up, many segments
          let h = 2166136261;
          for (const c of new TextEncoder().encode(body)) h = Math.imul(h ^ c, 16777619) >>> 0;
          const sum = await curl("-H", "Expect:", "--data-binary", body, `${base}/sum`);
          assert.equal(sum.stdout, `${body.length} ${h.toString(16).padStart(8, "0")}\n`);
          assert.equal((await curl(`${base}/quit`)).stdout, "bye\n");
          assert.equal(await guest.status, 1, guest.output());
          const out = guest.output();
          assert.match(out, /virtio-net eth0: .*tx checksum offload, rx checksum offload, tcp segmentation offload/);
          assert.match(out, /osv: net: eth0 192\.168\.77\.2\/255\.255\.255\.0 gateway 192\.168\.77\.1/);
          assert.doesNotMatch(out, /osv: dhcp/, "a static address means no DHCP");
          // With segmentation offload the megabyte leaves as super-segments: the average frame sent is
          // larger than the MTU (without it, every frame would be at most 1514 bytes).
          const tx = out.match(/osv: net: eth0 rx .* tx (\d+) packets (\d+) bytes/);
          assert.ok(tx, out);
          assert.ok(Number(tx[2]) / Number(tx[1]) > 1514, `average frame ${Number(tx[2]) / Number(tx[1])} bytes`);
        } finally {
          guest.kill();
          await guest.status;
        }
      });
    },
  });
}
