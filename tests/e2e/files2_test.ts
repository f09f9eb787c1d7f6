/**
 * memfd, sendfile, copy_file_range, statfs, links, owners, waits, preadv2/pwritev2, flock, priorities,
 * membarrier and mlock (tests/guest/files2.c): the same program in a fresh directory on the host and in
 * osv's /tmp, built with static glibc and static musl, under every accelerator; outputs must match.
 */

import { accelerators, assertSameInTmp, buildImage, guestProgram, type Libc } from "./_harness.ts";

const libcs: Libc[] = ["glibc", "musl"];

for (const accel of accelerators()) {
  for (const libc of libcs) {
    Deno.test(`memfd, sendfile, copy_file_range, statfs, hard links and friends (${libc}) match Linux [${accel}]`, async () => {
      const program = await guestProgram("files2", libc);
      const image = await buildImage(program);
      await assertSameInTmp(image, program, accel);
    });
  }
}
