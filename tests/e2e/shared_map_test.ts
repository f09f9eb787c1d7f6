/**
 * Writable shared mappings of tmpfs files and memfds, memfd seals, nice values per thread and POSIX
 * timers on thread CPU clocks (tests/guest/shared_map.c): the same program in osv's /tmp and in a fresh
 * directory on the host's tmpfs (/dev/shm, so that seals and holes are tmpfs's there too), built with
 * static glibc, static musl and dynamic glibc, under every accelerator; outputs must match.
 */

import { accelerators, assertSameInTmp, buildImage, guestProgram, type Libc } from "./_harness.ts";

const libcs: Libc[] = ["glibc", "musl", "glibc-dynamic"];

for (const accel of accelerators()) {
  for (const libc of libcs) {
    Deno.test(`shared file mappings, memfd seals, thread nice and thread CPU timers (${libc}) match Linux [${accel}]`, async () => {
      const program = await guestProgram("shared_map", libc);
      const image = await buildImage(program); // a dynamic one brings its ld.so and libraries
      await assertSameInTmp(image, program, accel, "/dev/shm");
    });
  }
}
