/**
 * Writable shared mappings of tmpfs files and memfds, memfd seals, nice values per thread and POSIX
 * timers on thread CPU clocks (tests/guest/shared_map.c): the same program in osv's /tmp and in a fresh
 * directory on the host's tmpfs (/dev/shm, so that seals and holes are tmpfs's there too), built with
 * static glibc, static musl and dynamic glibc, under every accelerator; outputs must match.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, type Libc, onHost } from "./_harness.ts";

const libcs: Libc[] = ["glibc", "musl", "glibc-dynamic"];

for (const accel of accelerators()) {
  for (const libc of libcs) {
    Deno.test(`shared file mappings, memfd seals, thread nice and thread CPU timers (${libc}) match Linux [${accel}]`, async () => {
      const program = await guestProgram("shared_map", libc);
      const image = await buildImage(program); // a dynamic one brings its ld.so and libraries
      const dir = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "osv-shared-map-" });
      try {
        const [guest, host] = await Promise.all([
          boot(image, { accel, cmdline: "/shared_map /tmp" }),
          onHost(program, [dir]),
        ]);
        assert.equal(host.code, 0, host.stderr);
        assert.match(host.stdout, /checks passed\n$/);
        assert.equal(guest.stdout, host.stdout);
        assert.equal(guest.code, 0, guest.stderr);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}
