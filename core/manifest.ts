/**
 * The manifest: what goes into the guest filesystem, as plain data (guest path -> entry).
 *
 * Runtimes produce it, `manifest` hooks patch it, filesystem providers serialise it.
 *
 * @module
 */

/**
 * A regular file, taken from the host or given as bytes. `mtime` (seconds since the epoch) is its
 * modification time in the guest; without it the time is 0, so that images do not depend on when the
 * host's files were touched. Give it where a guest program compares times (Python's `.pyc` files record
 * their source's).
 */
export type FileEntry =
  & { kind: "file"; mode: number; mtime?: number }
  & ({ hostPath: string; bytes?: never } | { bytes: Uint8Array; hostPath?: never });

/** A directory. */
export interface DirEntry {
  kind: "dir";
  mode: number;
}

/** A symbolic link. */
export interface SymlinkEntry {
  kind: "symlink";
  target: string;
}

/** One guest path's content. */
export type ManifestEntry = FileEntry | DirEntry | SymlinkEntry;

/** Guest absolute path (`/bin/app`) -> entry. Parent directories may be implicit. */
export type Manifest = Map<string, ManifestEntry>;

/**
 * Normalises a guest path to an absolute path without `.`/`..`/duplicate slashes.
 *
 * @param path a guest path, relative paths are taken from `/`
 * @returns the normalised absolute path
 * @throws TypeError when the path escapes the root or is empty
 * @example
 * ```ts
 * import { normalizeGuestPath } from "./manifest.ts";
 * if (normalizeGuestPath("etc//motd") !== "/etc/motd") throw new Error();
 * ```
 */
export function normalizeGuestPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) throw new TypeError(`Guest path "${path}" escapes the root`);
      parts.pop();
    } else parts.push(part);
  }
  return "/" + parts.join("/");
}

/**
 * Adds an entry and any missing parent directories (mode 0o755).
 *
 * @param manifest the manifest to change
 * @param path guest path of the entry
 * @param entry what to put there
 */
export function addEntry(manifest: Manifest, path: string, entry: ManifestEntry): void {
  const normal = normalizeGuestPath(path);
  if (normal === "/") throw new TypeError(`Cannot add "${path}" to the manifest: it is the root directory`);
  const parts = normal.split("/").slice(1);
  for (let i = 1; i < parts.length; i++) {
    const dir = "/" + parts.slice(0, i).join("/");
    const existing = manifest.get(dir);
    if (existing === undefined) manifest.set(dir, { kind: "dir", mode: 0o755 });
    else if (existing.kind !== "dir") {
      throw new TypeError(`Cannot add "${normal}" to the manifest: parent "${dir}" is a ${existing.kind}`);
    }
  }
  manifest.set(normal, entry);
}

/**
 * The manifest's entries with every parent directory made explicit, sorted so that a directory comes
 * right before its contents (plain code-unit order of the path components).
 *
 * @param manifest the manifest
 * @returns `[path, entry]` pairs, root excluded
 */
export function sortedEntries(manifest: Manifest): [string, ManifestEntry][] {
  const complete: Manifest = new Map();
  for (const [path, entry] of manifest) {
    if (normalizeGuestPath(path) === "/") continue;
    addEntry(complete, path, entry);
  }
  const key = (p: string) => p.split("/");
  return [...complete].sort(([a], [b]) => compareParts(key(a), key(b)));
}

function compareParts(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
