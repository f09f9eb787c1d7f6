/**
 * memfd, sendfile, copy_file_range, statfs, links, owners, waits, preadv2/pwritev2, flock, priorities,
 * membarrier and mlock (tests/guest/files2.c): the same program in a fresh directory on the host and in
 * osv's /tmp, built with static glibc and static musl, under every accelerator; outputs must match.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, type Libc, onHost } from "./_harness.ts";

const libcs: Libc[] = ["glibc", "musl"];

for (const accel of accelerators()) {
  for (const libc of libcs) {
    Deno.test(`memfd, sendfile, copy_file_range, statfs, hard links and friends (${libc}) match Linux [${accel}]`, async () => {
      const program = await guestProgram("files2", libc);
      const image = await buildImage(program);
      const dir = await Deno.makeTempDir({ prefix: "osv-files2-" });
      try {
        const [guest, host] = await Promise.all([
          boot(image, { accel, cmdline: "/files2 /tmp" }),
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
