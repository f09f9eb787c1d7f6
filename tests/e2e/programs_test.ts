/**
 * Real Debian programs, unchanged, in osv (issue 4): `find` walks the whole root filesystem and must see
 * exactly the files of the image's manifest, and busybox's applets print what the same busybox prints on
 * the host. Both are dynamically linked; `osv build` brings their ld.so and libraries.
 *
 * Not covered: applets that read standard input (`tr`, a pipeline): osv gives the program no input
 * stream, and busybox's shell would need fork for anything but its builtins.
 */

import assert from "node:assert/strict";
import { ensureHostTools } from "../../core/setup.ts";
import { accelerators, osv, type Outcome, work } from "./_harness.ts";

const FIND = "/usr/bin/find";
const BUSYBOX = "/usr/bin/busybox";

/** `osv build PROGRAM -o IMAGE ...extra`; the image's path. */
async function build(program: string, name: string, extra: string[] = []): Promise<string> {
  const image = `${await work()}/${name}-${crypto.randomUUID().slice(0, 8)}.img`;
  const result = await osv("build", program, "-o", image, ...extra);
  if (result.code !== 0) throw new Error(`osv build ${program} failed (${result.code}):\n${result.stderr}`);
  return image;
}

/** Boots an image without a NIC (no DHCP, so the kernel writes no /etc/resolv.conf) running cmdline. */
function bootOffline(image: string, accel: "tcg" | "kvm", cmdline: string): Promise<Outcome> {
  return osv("run", image, "--accel", accel, "--hypervisor", "qemu-microvm", "--no-net", "-e", cmdline);
}

let findImages: Promise<{ ramfs: string; rofs: string; files: string[] }> | undefined;

/** find's image on ramfs and on rofs, and the regular files of its manifest (`osv inspect --files --json`). */
function findImage() {
  findImages ??= (async () => {
    const [ramfs, rofs] = await Promise.all([
      build(FIND, "find-ramfs", ["--fs", "ramfs"]),
      build(FIND, "find-rofs", ["--fs", "rofs"]),
    ]);
    const inspected = await osv("inspect", "--files", "--json", ramfs);
    assert.equal(inspected.code, 0, inspected.stderr);
    const entries: { path: string; type: string }[] = JSON.parse(inspected.stdout).files;
    const files = entries.filter((e) => e.type === "file").map((e) => e.path).sort();
    return { ramfs, rofs, files };
  })();
  return findImages;
}

let busyboxImage: Promise<{ image: string; dir: string }> | undefined;

/** busybox's image with a few data files at /data; dir holds the same files on the host (in dir/data). */
function busybox() {
  busyboxImage ??= (async () => {
    await ensureHostTools(["busybox"]);
    const dir = `${await work()}/busybox-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(`${dir}/data`, { recursive: true });
    const words = ["pear", "apple", "fig", "apple", "kiwi", "Banana", "cherry", "fig", "date"];
    await Deno.writeTextFile(`${dir}/data/words.txt`, words.join("\n") + "\n");
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}: ${"osv ".repeat(i % 7)}end`);
    await Deno.writeTextFile(`${dir}/data/text.txt`, lines.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/data/table.csv`, "name,size,kind\nls,120,tool\ncat,40,tool\nosv,7,kernel\n");
    const image = await build(BUSYBOX, "busybox", ["--add", `${dir}/data:/data`]);
    return { image, dir };
  })();
  return busyboxImage;
}

/** Applets and their arguments; paths are relative to /data's parent, the guest's cwd and the host's. */
const APPLETS: string[][] = [
  ["echo", "hello", "two words", "-n"],
  ["ls", "-1", "data"],
  ["wc", "data/text.txt", "data/words.txt"],
  ["sort", "data/words.txt"],
  ["sort", "-u", "-r", "data/words.txt"],
  ["uniq", "-c", "data/words.txt"],
  ["md5sum", "data/text.txt", "data/words.txt"],
  ["sha256sum", "data/text.txt"],
  ["head", "-n", "3", "data/text.txt"],
  ["tail", "-n", "2", "data/text.txt"],
  ["cut", "-d", ",", "-f", "1,3", "data/table.csv"],
  ["seq", "10", "-3", "-5"],
  ["expr", "6", "*", "7"],
  ["expr", "length", "unikernel"],
  ["printf", "%05d|%-6s|%x\\n", "42", "osv", "255"],
  ["base64", "data/table.csv"],
  ["od", "-A", "x", "-t", "x1", "data/words.txt"],
  ["basename", "/usr/lib/libc.so.6", ".6"],
];

/** Quotes a word for the kernel command line. */
function quote(word: string): string {
  return /^[\w./,:%*-]+$/.test(word) ? word : `'${word}'`;
}

for (const accel of accelerators()) {
  for (const fs of ["ramfs", "rofs"] as const) {
    Deno.test(`Debian's find lists exactly the image's files (${fs}) [${accel}]`, async () => {
      const images = await findImage();
      // -xdev stays on the root filesystem (off /dev, /proc, /sys and /tmp, as on Linux).
      const guest = await bootOffline(images[fs], accel, "/find / -xdev -type f");
      assert.equal(guest.code, 0, guest.stdout + guest.stderr);
      const listed = guest.stdout.split("\n").filter((line) => line !== "").sort();
      // The kernel adds /etc/resolv.conf at boot (from DHCP or --nameserver) when the image has none.
      assert.deepEqual(listed, [...images.files, "/etc/resolv.conf"].sort());
    });
  }

  Deno.test(`busybox applets print what the same busybox prints on the host [${accel}]`, async () => {
    const { image, dir } = await busybox();
    for (const [applet, ...args] of APPLETS) {
      const guest = await bootOffline(image, accel, `/busybox ${[applet!, ...args].map(quote).join(" ")}`);
      const host = await new Deno.Command(BUSYBOX, { args: [applet!, ...args], cwd: dir, clearEnv: true }).output();
      const expected = new TextDecoder().decode(host.stdout);
      assert.equal(host.code, 0, `busybox ${applet} on the host`);
      assert.equal(guest.stdout, expected, `busybox ${applet} ${args.join(" ")}`);
      assert.equal(guest.code, 0, `busybox ${applet}: ${guest.stderr}`);
    }
  });
}
