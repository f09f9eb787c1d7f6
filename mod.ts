/**
 * osv's public API for plugin authors: {@linkcode definePlugin}, the provider contracts of the four
 * families (filesystem, hypervisor, image format, runtime), the pipeline hooks, the manifest and errors.
 *
 * Built-in plugins (`fs:ramfs`, `hv:qemu`, `hv:qemu-microvm`, `fmt:raw`, `rt:native`) use exactly this API.
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

export { definePlugin } from "./core/plugin.ts";
export type { OsvCommand, Plugin, PluginFactory } from "./core/plugin.ts";
export type {
  Accel,
  Availability,
  CollectedApp,
  ConsoleIO,
  DiskReader,
  FilesystemImage,
  FilesystemProvider,
  HostCommand,
  HypervisorProvider,
  ImageFormatProvider,
  ProviderContext,
  RuntimeProvider,
  VmSpec,
} from "./core/providers.ts";
export { HOOK_KINDS } from "./core/hooks.ts";
export type {
  BuildConfig,
  BuildResult,
  HookArgs,
  HookContext,
  HookKind,
  HookName,
  HookResult,
  HookTable,
  KernelArtifact,
  KernelRequest,
  PipelineHooks,
  RunOutcome,
} from "./core/hooks.ts";
export { addEntry, normalizeGuestPath, sortedEntries } from "./core/manifest.ts";
export type { DirEntry, FileEntry, Manifest, ManifestEntry, SymlinkEntry } from "./core/manifest.ts";
export { PluginError, RunError, ValidationError } from "./core/errors.ts";
export { assertRunnableStatic, ElfError, parseElf, readElf } from "./core/elf.ts";
export type { ElfInfo, ProgramHeader } from "./core/elf.ts";
export { IMAGE_MAGIC, readImageHeader } from "./core/image.ts";
export type { ImageHeader } from "./core/image.ts";
export { PluginRegistry } from "./core/registry.ts";
export { build } from "./core/pipeline.ts";
export type { BuildRequest, KernelBuilder } from "./core/pipeline.ts";
export { runImage } from "./core/run.ts";
export type { RunRequest, RunResult } from "./core/run.ts";
