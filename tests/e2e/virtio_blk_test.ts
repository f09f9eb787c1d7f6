/**
 * virtio-blk end to end: boots the kernel in QEMU directly with a 1 MiB raw disk on each transport
 * (virtio-pci on `pc`; legacy virtio-mmio found in microvm's fixed slots; modern virtio-mmio announced
 * by QEMU's `virtio_mmio.device=` word), runs the kernel's `--blktest`, and checks its checksums and
 * the sector it wrote against the disk file on the host.
 */

import assert from "node:assert/strict";
import { buildKernel } from "../../kernel/build.ts";
import { KVM_CPU, qemuBinary, TCG_CPU } from "../../hypervisors/_qemu_common.ts";
import { probeKvm, PVM_SAFE_OPTION } from "../../core/host.ts";
import { accelerators, guestProgram, run, work } from "./_harness.ts";
import { cpioWith } from "./_net.ts";

const DISK_BYTES = 1 << 20;
const SECTOR = 512;

/** FNV-1a 32-bit, as the kernel's --blktest prints it. */
function fnv1a(data: Uint8Array): string {
  let h = 2166136261;
  for (const byte of data) h = Math.imul(h ^ byte, 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** What --blktest hashes of the first MiB: sectors 127, 255, ... (the last of each 64 KiB request). */
function sampledSectors(disk: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let s = 127; s < Math.min(disk.length / SECTOR, 2048); s += 128) {
    out.push(...disk.subarray(s * SECTOR, (s + 1) * SECTOR));
  }
  return new Uint8Array(out);
}

/** The pattern --blktest writes to the last sector: "osv-blktest", then (i * 7 + 3) & 0xff. */
function blktestPattern(): Uint8Array {
  const sector = new Uint8Array(SECTOR);
  for (let i = 0; i < SECTOR; i++) sector[i] = (i * 7 + 3) & 0xff;
  sector.set(new TextEncoder().encode("osv-blktest"));
  return sector;
}

let initrd: Promise<string> | undefined;

/** The initrd: a static program at /app. */
function initrdPath(): Promise<string> {
  initrd ??= (async () => {
    const program = await guestProgram("args_env");
    const path = `${await work()}/virtio_blk.cpio`;
    await Deno.writeFile(path, cpioWith("app", await Deno.readFile(program)));
    return path;
  })();
  return initrd;
}

const machines = {
  "pc, virtio-pci": { machine: "pc", extra: ["-device", "virtio-blk-pci,drive=d0"] },
  "microvm, legacy virtio-mmio": {
    machine: "microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on",
    extra: ["-device", "virtio-blk-device,drive=d0"],
  },
  "microvm, modern virtio-mmio from the command line": {
    machine: "microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on,acpi=off",
    extra: ["-global", "virtio-mmio.force-legacy=false", "-device", "virtio-blk-device,drive=d0"],
  },
} as const;

for (const accel of accelerators()) {
  for (const [label, { machine, extra }] of Object.entries(machines)) {
    Deno.test(`virtio-blk: --blktest reads, writes and flushes a 1 MiB disk (${label}) [${accel}]`, async () => {
      const kernel = await buildKernel();
      const dir = await work();
      const disk = `${dir}/disk-${crypto.randomUUID().slice(0, 8)}.raw`;
      const original = crypto.getRandomValues(new Uint8Array(DISK_BYTES / 16)); // getRandomValues caps at 64 KiB
      const contents = new Uint8Array(DISK_BYTES);
      for (let at = 0; at < DISK_BYTES; at += original.length) {
        contents.set(crypto.getRandomValues(original), at);
      }
      await Deno.writeFile(disk, contents);
      const kernelOptions = accel === "kvm" && probeKvm().pvm ? `${PVM_SAFE_OPTION} ` : "";
      const result = await run(qemuBinary(), [
        "-machine",
        `${machine},accel=${accel}`,
        "-cpu",
        accel === "kvm" ? KVM_CPU : TCG_CPU,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-m",
        "128",
        "-kernel",
        kernel.path,
        "-initrd",
        await initrdPath(),
        "-append",
        `${kernelOptions}--verbose --blktest /app`,
        "-serial",
        "stdio",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=4",
        "-drive",
        `file=${disk},format=raw,if=none,id=d0`,
        ...extra,
      ]);
      const out = result.stdout;
      const first = fnv1a(contents.subarray(0, SECTOR));
      const last = fnv1a(contents.subarray(DISK_BYTES - SECTOR));
      const sampled = fnv1a(sampledSectors(contents));
      assert.match(out, /osv: virtio-blk vblk0: 2048 sectors, read-write/, out);
      assert.ok(
        out.includes(`osv: blktest: vblk0 sectors=2048 first=${first} last=${last} head2048-sampled=${sampled}`),
        `checksums first=${first} last=${last} head2048-sampled=${sampled} expected in:\n${out}`,
      );
      assert.ok(out.includes("osv: blktest: bcache match"), out);
      const pattern = blktestPattern();
      assert.ok(out.includes(`osv: blktest: wrote pattern=${fnv1a(pattern)}, read back match`), out);
      const after = await Deno.readFile(disk);
      assert.deepEqual(after.subarray(DISK_BYTES - SECTOR), pattern);
      assert.deepEqual(after.subarray(0, DISK_BYTES - SECTOR), contents.subarray(0, DISK_BYTES - SECTOR));
      assert.equal(result.code, 1, `QEMU exit ${result.code} (1 = app exit 0):\n${out}\n${result.stderr}`);
      await Deno.remove(disk);
    });
  }
}
