/**
 * osv's public API for plugin authors: {@linkcode definePlugin}, the provider contracts of the four
 * families (filesystem, hypervisor, image format, runtime), the pipeline hooks, the manifest and errors.
 *
 * Built-in plugins (`fs:ramfs`, `hv:qemu`, `hv:qemu-microvm`, `fmt:raw`, `fmt:qcow2`, `fmt:vmdk`,
 * `fmt:vdi`, `rt:native`, `rt:python`, `osv:etc`) use exactly this API.
 *
 * @example
 * ```ts
 * import { definePlugin } from "./mod.ts";
 *
 * export default definePlugin({
 *   name: "acme:motd",
 *   hooks: {
 *     manifest(manifest) {
 *       manifest.set("/etc/motd", { kind: "file", bytes: new TextEncoder().encode("hello\n"), mode: 0o644 });
 *     },
 *   },
 * });
 * ```
 *
 * @module
 */

export * from "./core/api.ts";
export { build } from "./core/pipeline.ts";
export type { BuildRequest, KernelBuilder } from "./core/pipeline.ts";
export { runImage } from "./core/run.ts";
export type { RunRequest, RunResult } from "./core/run.ts";
export { parseForward, parseIp, parseMac, parseNicSpec } from "./core/net.ts";
export type { NetworkRequest, NicRequest, StaticAddress } from "./core/net.ts";
export { convertImage, inspectImage, setImageCmdline } from "./core/inspect.ts";
export type { ConvertResult, ImageInfo } from "./core/inspect.ts";
export { openImage, probeFormat, writeImageFile } from "./core/disk.ts";
