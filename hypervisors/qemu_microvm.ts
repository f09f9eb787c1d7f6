/**
 * `hv:qemu-microvm`: QEMU's minimal `microvm` machine (no PCI, no firmware ROMs), faster to boot.
 *
 * @module
 */

import type { HostCommand, Plugin, VmSpec } from "../core/api.ts";
import { definePlugin } from "../core/plugin.ts";
import { commonQemuArgs, diskArgs, launchQemu, nicArgs, qemuAvailable, qemuBinary } from "./_qemu_common.ts";

/**
 * microvm machine options. The kernel uses the LAPIC (no PIC needed) but may calibrate the TSC with the
 * PIT when kvmclock/CPUID give no frequency, so the PIT stays on. isa-serial=on keeps COM1 and COM2.
 * acpi=off makes QEMU name each virtio-mmio device on the kernel command line (`virtio_mmio.device=`),
 * so the kernel need not probe for them. rtc=on gives the wall clock under TCG.
 */
export const MICROVM_OPTIONS = "x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on,acpi=off";

/**
 * The QEMU command for the `microvm` machine.
 *
 * @param spec the VM
 * @returns program and arguments
 */
export function qemuMicrovmCommand(spec: VmSpec): HostCommand {
  return {
    command: qemuBinary(),
    args: [
      "-machine",
      `microvm,accel=${spec.accel},${MICROVM_OPTIONS}`,
      ...commonQemuArgs(spec),
      ...diskArgs(spec, "virtio-blk-device"),
      ...nicArgs(spec, "virtio-net-device"),
    ],
  };
}

/**
 * The QEMU `microvm` hypervisor plugin.
 *
 * @returns the `hv:qemu-microvm` plugin
 */
export function qemuMicrovm(): Plugin {
  return definePlugin({
    name: "hv:qemu-microvm",
    description: "QEMU, machine microvm",
    hypervisors: [{
      name: "qemu-microvm",
      accels: ["kvm", "tcg"],
      nicBackends: ["user", "tap"],
      available: qemuAvailable,
      command: qemuMicrovmCommand,
      launch: (spec, io) => launchQemu(qemuMicrovmCommand(spec), spec, io),
    }],
  });
}
