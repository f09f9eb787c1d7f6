/**
 * The writable tmpfs at /tmp: the same program creates, writes, renames, links and removes files in a
 * fresh directory on the host and in osv's /tmp (and a `--mount-fs=tmpfs,/path` directory); outputs must match.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, onHost } from "./_harness.ts";

for (const accel of accelerators()) {
  Deno.test(`tmpfs at /tmp and --mount-fs behave as Linux's file syscalls [${accel}]`, async () => {
    const program = await guestProgram("tmpfs");
    const image = await buildImage(program);
    const dir = await Deno.makeTempDir({ prefix: "osv-tmpfs-" });
    try {
      const [guestTmp, guestMount, host] = await Promise.all([
        boot(image, { accel, cmdline: "/tmpfs /tmp" }),
        boot(image, { accel, cmdline: "--mount-fs=tmpfs,/scratch/w /tmpfs /scratch/w" }),
        onHost(program, [dir]),
      ]);
      assert.equal(host.code, 0, host.stderr);
      assert.match(host.stdout, /ghost=\[boo!!\]/);
      assert.equal(guestTmp.stdout, host.stdout);
      assert.equal(guestTmp.code, 0, guestTmp.stderr);
      assert.equal(guestMount.stdout, host.stdout);
      assert.equal(guestMount.code, 0, guestMount.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
