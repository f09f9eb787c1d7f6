/**
 * Reading the image's files: a tree added with `osv build --add` is walked and hashed by the same
 * program on the host and in osv; the outputs must match.
 */

import assert from "node:assert/strict";
import { accelerators, boot, guestProgram, onHost, osv, work } from "./_harness.ts";

/** A small tree with what trips file systems up: nesting, links, empty files and dirs, odd names. */
async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/a/b/c/d`, { recursive: true });
  await Deno.mkdir(`${root}/empty dir`, { recursive: true });
  await Deno.mkdir(`${root}/ünï cødé`, { recursive: true });
  await Deno.writeTextFile(`${root}/hello.txt`, "hello\n");
  await Deno.writeTextFile(`${root}/a/b/c/d/deep.txt`, "deep\n".repeat(1000));
  await Deno.writeFile(`${root}/empty`, new Uint8Array());
  await Deno.writeTextFile(`${root}/ünï cødé/name with spaces.txt`, "spaces\n");
  const big = new Uint8Array(3 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  await Deno.writeFile(`${root}/a/big.bin`, big);
  await Deno.symlink("../hello.txt", `${root}/a/link-to-hello`);
  await Deno.symlink("b/c", `${root}/a/dir-link`);
  await Deno.symlink("missing-target", `${root}/dangling`);
  await Deno.chmod(`${root}/hello.txt`, 0o600);
}

for (const accel of accelerators()) {
  Deno.test(`a tree added with --add reads the same in osv as on Linux [${accel}]`, async () => {
    const dir = await work();
    const tree = `${dir}/tree-${accel}`;
    await makeTree(tree);
    const program = await guestProgram("files");
    const image = `${dir}/files-${accel}.img`;
    const built = await osv("build", program, "--add", `${tree}:/data`, "-o", image);
    assert.equal(built.code, 0, built.stderr);
    const [guest, host] = await Promise.all([
      boot(image, { accel, cmdline: "/files /data", mem: "128M" }),
      onHost(program, [tree]),
    ]);
    assert.equal(host.code, 0);
    assert.match(host.stdout, /a\/big\.bin file 3145728 /);
    assert.equal(guest.stdout, host.stdout);
    assert.equal(guest.code, 0, guest.stderr);
  });
}
