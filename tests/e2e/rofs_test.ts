/**
 * The root filesystem end to end: a tree of 10,000 files (deep, wide, empty, symlinks, UTF-8 names and a
 * 64 MiB file) is hashed by the same program on the host and in osv, on rofs and ramfs, on `qemu` and
 * `qemu-microvm`; rofs images in every container format boot; corrupt rofs images fail cleanly in the
 * kernel and in `osv inspect`.
 */

import assert from "node:assert/strict";
import { accelerators, boot, buildImage, guestProgram, onHost, osv, work } from "./_harness.ts";
import { BIG_FILE, TREE_FILES, writeTree } from "./_tree.ts";
import { readImageHeader } from "../../core/image.ts";
import { openImage } from "../../core/disk.ts";
import { builtinPlugins } from "../../core/builtins.ts";
import { PluginRegistry } from "../../core/registry.ts";
import { decodeSuperblock, DIRENT_SIZE, encodeSuperblock, INODE_SIZE } from "../../plugins/_rofs.ts";

let tree: Promise<string> | undefined;

/** The test tree on the host (written once per test process). */
function treeRoot(): Promise<string> {
  tree ??= (async () => {
    const root = `${await work()}/tree`;
    assert.equal(await writeTree(root), TREE_FILES);
    return root;
  })();
  return tree;
}

const images = new Map<string, Promise<string>>();

/** treehash with the tree (or one subtree of it) at /data, in an image of filesystem fs. */
function treeImage(fs: "rofs" | "ramfs", subtree: string): Promise<string> {
  const key = `${fs}:${subtree}`;
  let image = images.get(key);
  if (!image) {
    image = (async () =>
      buildImage(await guestProgram("treehash"), [
        "--fs",
        fs,
        "--add",
        `${await treeRoot()}${subtree}:/data${subtree}`,
      ]))();
    images.set(key, image);
  }
  return image;
}

const expected = new Map<string, Promise<string>>();

/** treehash's output on the host over a subtree of the test tree ("" for all of it). */
function hostOutput(subtree: string): Promise<string> {
  let output = expected.get(subtree);
  if (!output) {
    output = (async () => {
      const host = await onHost(await guestProgram("treehash"), [`${await treeRoot()}${subtree}`]);
      assert.equal(host.code, 0, host.stderr);
      return host.stdout;
    })();
    expected.set(subtree, output);
  }
  return output;
}

// Under kvm_pvm every kernel instruction is emulated: the whole tree (60,000 syscalls, 76 MiB copied by the
// kernel) takes minutes there, so KVM gets an image of the deep part (40 levels, 80 files) and TCG all of it.
for (const fs of ["rofs", "ramfs"] as const) {
  for (const hypervisor of ["qemu", "qemu-microvm"] as const) {
    for (const accel of accelerators()) {
      const subtree = accel === "kvm" ? "/deep" : "";
      const what = accel === "kvm" ? "the tree's 40-level branch" : "a 10,000-file tree";
      Deno.test(`${what} hashes the same on ${fs} as on the host (${hypervisor}, ${accel})`, async () => {
        const want = await hostOutput(subtree);
        if (subtree === "") assert.match(want, new RegExp(`f /${BIG_FILE} \\d+ 67108864 `));
        // The ramfs holds the whole tree in guest memory; rofs reads it from the disk.
        const guest = await boot(await treeImage(fs, subtree), {
          accel,
          hypervisor,
          cmdline: `/treehash /data${subtree}`,
          mem: fs === "ramfs" ? "320" : "64",
        });
        assert.equal(guest.code, 0, guest.stderr);
        assert.equal(guest.stdout, want);
      });
    }
  }
}

for (const format of ["qcow2", "vmdk", "vmdk-stream", "vdi", "raw"]) {
  Deno.test(`a rofs image in ${format} boots and runs its program`, async () => {
    const program = await guestProgram("args_env");
    const image = `${program}-rofs.${format === "vmdk-stream" ? "stream.vmdk" : format}`;
    const built = await osv("build", program, "--fs", "rofs", "--format", format, "-o", image);
    assert.equal(built.code, 0, built.stderr);
    const guest = await boot(image, { accel: accelerators()[0]!, cmdline: "/args_env one 'two words'" });
    assert.equal(guest.code, 0, guest.stderr);
    const host = await onHost(program, ["one", "two words"]);
    assert.equal(guest.stdout.split("\n").slice(0, 3).join("\n"), host.stdout.split("\n").slice(0, 3).join("\n"));
  });
}

/** Rewrites bytes of a raw image's rofs filesystem (offsets relative to the filesystem). */
async function corruptCopy(
  name: string,
  change: (fs: Uint8Array, view: DataView) => void,
): Promise<{ path: string; fsOffset: number }> {
  const source = await buildImage(await guestProgram("treehash"), ["--add", `${await treeRoot()}/deep/level 00:/d`]);
  const registry = new PluginRegistry(builtinPlugins());
  const { disk } = await openImage(registry, source, "test");
  const header = await readImageHeader(disk, source);
  disk.close();
  const bytes = await Deno.readFile(source);
  const fs = bytes.subarray(header.fsOffset, header.fsOffset + header.fsSize);
  change(fs, new DataView(fs.buffer, fs.byteOffset, fs.byteLength));
  const path = `${source}.${name}`;
  await Deno.writeFile(path, bytes);
  return { path, fsOffset: header.fsOffset };
}

/** Re-encodes the superblock after a change to its fields (so only the intended damage remains). */
function patchSuperblock(fs: Uint8Array, change: (sb: ReturnType<typeof decodeSuperblock>) => void): void {
  const sb = decodeSuperblock(fs.subarray(0, 80), fs.length);
  change(sb);
  fs.set(encodeSuperblock(sb).subarray(0, 80));
}

/** Finds the dirent naming `name` in the filesystem's tables: its byte offset in fs. */
function direntOf(fs: Uint8Array, name: string): number {
  const sb = decodeSuperblock(fs.subarray(0, 80), fs.length);
  const view = new DataView(fs.buffer, fs.byteOffset, fs.byteLength);
  const wanted = new TextEncoder().encode(name);
  for (let e = 0; e < sb.direntCount; e++) {
    const at = sb.direntTable + e * DIRENT_SIZE;
    const off = sb.strings + view.getUint32(at + 4, true), len = view.getUint32(at + 8, true);
    if (len === wanted.length && fs.subarray(off, off + len).every((b, i) => b === wanted[i])) return at;
  }
  throw new Error(`no entry named ${name}`);
}

const CORRUPTIONS: Record<string, { change: (fs: Uint8Array, view: DataView) => void; kernel: RegExp; tool: RegExp }> =
  {
    "bad magic": {
      change: (fs) => fs.set(new TextEncoder().encode("NOTROFS!")),
      kernel: /bad magic/,
      tool: /bad ROFS magic/,
    },
    "truncated filesystem": {
      change: (fs) => patchSuperblock(fs, (sb) => sb.totalSize = fs.length + 4096),
      kernel: /truncated/,
      tool: /truncated/,
    },
    "file data past the end": {
      change: (fs, view) => {
        const sb = decodeSuperblock(fs.subarray(0, 80), fs.length);
        const entry = direntOf(fs, "treehash");
        const inode = sb.inodeTable + view.getUint32(entry, true) * INODE_SIZE;
        view.setBigUint64(inode + 16, BigInt(sb.totalSize - 100), true);
      },
      kernel: /data past the end/,
      tool: /past the end/,
    },
    "directory loop": {
      // /d/level 01 becomes a second name of the root's child directory /d: a loop.
      change: (fs, view) => {
        const d = view.getUint32(direntOf(fs, "d"), true);
        view.setUint32(direntOf(fs, "level 01"), d, true);
      },
      kernel: /directory loop/,
      tool: /directory loop/,
    },
    "entry pointing past the inode table": {
      change: (fs, view) => view.setUint32(direntOf(fs, "b.dat"), 0x7fffffff, true),
      kernel: /points at inode/,
      tool: /past the table/,
    },
  };

for (const [name, corruption] of Object.entries(CORRUPTIONS)) {
  Deno.test(`a rofs image with ${name} fails cleanly in the kernel and in osv inspect`, async () => {
    const { path } = await corruptCopy(name.replaceAll(" ", "-"), corruption.change);
    for (const accel of accelerators()) {
      const guest = await boot(path, { accel, cmdline: "/treehash /" });
      assert.equal(guest.code, 127, `${accel}: ${guest.stdout}${guest.stderr}`);
      assert.match(guest.stdout + guest.stderr, /osv: rofs: vblk0: corrupt filesystem/);
      assert.match(guest.stdout + guest.stderr, corruption.kernel);
    }
    const inspect = await osv("inspect", path, "--files");
    assert.equal(inspect.code, 1, inspect.stdout);
    assert.match(inspect.stderr, corruption.tool);
  });
}

Deno.test("an image file cut short is refused before booting, naming what is missing", async () => {
  const source = await buildImage(await guestProgram("treehash"), ["--add", `${await treeRoot()}/names:/names`]);
  const bytes = await Deno.readFile(source);
  const path = `${source}.cut`;
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 8192));
  const guest = await boot(path, { accel: accelerators()[0]!, cmdline: "/treehash /" });
  assert.equal(guest.code, 1, guest.stdout + guest.stderr);
  assert.match(guest.stderr, /filesystem \(offset \d+, size \d+\) extends past the end of the file/);
});

Deno.test("osv inspect --files lists a rofs image's tree like the host sees it", async () => {
  const image = await buildImage(await guestProgram("treehash"), ["--add", `${await treeRoot()}/links:/links`]);
  const inspect = await osv("inspect", image, "--files", "--json");
  assert.equal(inspect.code, 0, inspect.stderr);
  const files = (JSON.parse(inspect.stdout) as { files: { path: string; type: string; size: number }[] }).files;
  const links = files.filter((f) => f.path.startsWith("/links/")).map((f) => `${f.path} ${f.type} ${f.size}`);
  assert.deepEqual(links, [
    "/links/absolute symlink 9",
    "/links/chain symlink 7",
    "/links/dangling symlink 14",
    "/links/to file symlink 23",
    "/links/to-dir symlink 7",
  ]);
});
