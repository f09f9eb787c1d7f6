/**
 * `hv:qemu`: QEMU's `pc` machine, booting the kernel directly (PVH) with `-kernel`.
 *
 * @module
 */

import type { HostCommand, Plugin, VmSpec } from "../core/api.ts";
import { definePlugin } from "../core/plugin.ts";
import { commonQemuArgs, diskArgs, launchQemu, nicArgs, qemuAvailable, qemuBinary } from "./_qemu_common.ts";

/**
 * The QEMU command for the `pc` machine.
 *
 * @param spec the VM
 * @returns program and arguments
 */
export function qemuPcCommand(spec: VmSpec): HostCommand {
  return {
    command: qemuBinary(),
    args: [
      "-machine",
      `pc,accel=${spec.accel}`,
      ...commonQemuArgs(spec),
      ...diskArgs(spec, "virtio-blk-pci"),
      ...nicArgs(spec, "virtio-net-pci"),
    ],
  };
}

/**
 * The QEMU `pc` hypervisor plugin.
 *
 * @returns the `hv:qemu` plugin
 */
export function qemu(): Plugin {
  return definePlugin({
    name: "hv:qemu",
    description: "QEMU, machine pc",
    hypervisors: [{
      name: "qemu",
      accels: ["kvm", "tcg"],
      nicBackends: ["user", "tap"],
      available: qemuAvailable,
      command: qemuPcCommand,
      launch: (spec, io) => launchQemu(qemuPcCommand(spec), spec, io),
    }],
  });
}
