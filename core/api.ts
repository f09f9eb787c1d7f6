/**
 * The plugin API: everything `mod.ts` exports except the pipeline entry points (`build`, `runImage`).
 * Built-in plugins import it from here so that loading them does not load the build pipeline.
 *
 * @module
 */

export { definePlugin } from "./plugin.ts";
export type { OsvCommand, Plugin, PluginFactory, PluginOption } from "./plugin.ts";
export type {
  Accel,
  Availability,
  CollectedApp,
  ConsoleIO,
  DiskExtent,
  DiskRange,
  DiskReader,
  DiskSource,
  FilesystemImage,
  FilesystemProvider,
  HostCommand,
  HypervisorProvider,
  ImageFile,
  ImageFormatProvider,
  ImageOutput,
  NicBackend,
  PortForward,
  ProviderContext,
  ReadAt,
  RuntimeContext,
  RuntimeProvider,
  VmDisk,
  VmNic,
  VmSpec,
} from "./providers.ts";
export { HOOK_KINDS } from "./hooks.ts";
export type {
  BuildConfig,
  BuildResult,
  GuestNetwork,
  HookArgs,
  HookContext,
  HookKind,
  HookName,
  HookResult,
  HookTable,
  KernelArtifact,
  KernelRequest,
  OptionValue,
  PipelineHooks,
  RunOutcome,
} from "./hooks.ts";
export { addEntry, normalizeGuestPath, sortedEntries } from "./manifest.ts";
export type { DirEntry, FileEntry, Manifest, ManifestEntry, SymlinkEntry } from "./manifest.ts";
export { PluginError, RunError, ValidationError } from "./errors.ts";
export { assertRunnable, ElfError, identifyElf, parseElf, readDynamicSymbols, readElf } from "./elf.ts";
export type { DynamicInfo, ElfIdentity, ElfInfo, ProgramHeader } from "./elf.ts";
export { addLibraryClosure, LD_SO_CACHE, LibraryError, resolveLibraries } from "./libraries.ts";
export type { AddLibrariesOptions, LibraryClosure, ResolveOptions, SharedLibrary } from "./libraries.ts";
export { addHostFileKeepingLinks } from "./add.ts";
export { compareLibraryNames, parseLdCache, readLdCache, writeLdCache } from "./ldcache.ts";
export type { LdCacheEntry } from "./ldcache.ts";
export { IMAGE_MAGIC, readImageHeader } from "./image.ts";
export { dataClusters, isZero, readerSource, streamSource } from "./disk.ts";
export type { DataCluster } from "./disk.ts";
export type { ImageHeader } from "./image.ts";
export { PluginRegistry } from "./registry.ts";
