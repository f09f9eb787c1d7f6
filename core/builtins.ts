/**
 * The built-in plugins, in the order they are registered. Third-party plugins come after them
 * (and may move with `enforce: "pre"`).
 *
 * Start-up: the built-ins take their values from the core modules that define them (the same objects
 * mod.ts exports), not through the core/api.ts barrel, and import what only builds need (collectors,
 * filesystem writers, the ELF and library code) when a provider is called, so `osv run` loads none of it.
 *
 * @module
 */

import type { Plugin } from "./plugin.ts";
import { native } from "../plugins/native.ts";
import { python } from "../plugins/python.ts";
import { etc } from "../plugins/etc.ts";
import { ramfs } from "../plugins/ramfs.ts";
import { rofs } from "../plugins/rofs.ts";
import { raw } from "../formats/raw.ts";
import { qcow2 } from "../formats/qcow2.ts";
import { vmdk } from "../formats/vmdk.ts";
import { vdi } from "../formats/vdi.ts";
import { qemu } from "../hypervisors/qemu.ts";
import { qemuMicrovm } from "../hypervisors/qemu_microvm.ts";

/**
 * Every built-in plugin: runtimes, the generated /etc (`enforce: "post"`, so it runs last and keeps what
 * the app and other plugins put in /etc), filesystems, formats, hypervisors.
 *
 * @returns fresh plugin objects
 */
export function builtinPlugins(): Plugin[] {
  return [
    native(),
    python(),
    etc(),
    rofs(),
    ramfs(),
    raw(),
    qcow2(),
    vmdk(),
    vdi(),
    qemu(),
    qemuMicrovm(),
  ];
}
