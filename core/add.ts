/**
 * Host files into the manifest: `osv build --add HOST[:GUEST]` (files and whole directory trees, keeping
 * modes, symbolic links as links and empty directories), and single host files at their own path with
 * the symbolic links on the way (for a program's libraries).
 *
 * @module
 */

import { addEntry, type FileEntry, type Manifest, type ManifestEntry, normalizeGuestPath } from "./manifest.ts";
import { resolve } from "./paths.ts";

/** One `--add`: a host path and where it goes in the guest. */
export interface AddSpec {
  host: string;
  guest: string;
}

/**
 * Parses `HOST[:GUEST]`; without GUEST the file goes to the same absolute path as on the host.
 *
 * @param spec the option's value
 * @param cwd directory relative host paths start from
 * @returns host and guest paths
 * @throws TypeError when the value is empty or GUEST is not absolute
 * @example
 * ```ts
 * import { parseAddSpec } from "./add.ts";
 * const { host, guest } = parseAddSpec("data:/srv/data", "/home/me");
 * if (host !== "/home/me/data" || guest !== "/srv/data") throw new Error();
 * ```
 */
export function parseAddSpec(spec: string, cwd: string): AddSpec {
  const colon = spec.lastIndexOf(":");
  const hasGuest = colon >= 0 && spec[colon + 1] === "/";
  const hostPart = hasGuest ? spec.slice(0, colon) : spec;
  if (hostPart === "") throw new TypeError(`Invalid --add "${spec}": expected HOST[:GUEST]`);
  const host = resolve(cwd, hostPart);
  return { host, guest: normalizeGuestPath(hasGuest ? spec.slice(colon + 1) : host) };
}

/**
 * Adds a host file, symlink or directory tree at a guest path.
 *
 * @param manifest the manifest to extend
 * @param spec what to add where
 * @returns how many entries were added
 * @throws Error naming the host path when it cannot be read or is of an unsupported type
 */
export function addHostPath(manifest: Manifest, spec: AddSpec): number {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(spec.host);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "no such file or directory" : String(err);
    throw new Error(`Cannot add "${spec.host}": ${why}`);
  }
  const mode = (info.mode ?? 0o644) & 0o7777;
  let entry: ManifestEntry;
  if (info.isSymlink) entry = { kind: "symlink", target: Deno.readLinkSync(spec.host) };
  else if (info.isFile) entry = { kind: "file", hostPath: spec.host, mode };
  else if (info.isDirectory) entry = { kind: "dir", mode };
  else throw new Error(`Cannot add "${spec.host}": not a regular file, directory or symbolic link`);
  if (spec.guest === "/") {
    if (entry.kind !== "dir") throw new Error(`Cannot add "${spec.host}" as the root directory: not a directory`);
  } else {
    addEntry(manifest, spec.guest, entry);
  }
  let count = 1;
  if (entry.kind === "dir") {
    const names = [...Deno.readDirSync(spec.host)].map((e) => e.name).sort();
    for (const name of names) {
      const guest = spec.guest === "/" ? `/${name}` : `${spec.guest}/${name}`;
      count += addHostPath(manifest, { host: `${spec.host}/${name}`, guest });
    }
  }
  return count;
}

/** Linux gives up after this many symbolic links in one path (ELOOP). */
const MAX_SYMLINKS = 40;

function addOnce(manifest: Manifest, path: string, entry: ManifestEntry): void {
  const existing = manifest.get(path);
  if (existing === undefined) return addEntry(manifest, path, entry);
  const same = existing.kind === entry.kind && (
    existing.kind === "dir" ||
    (existing.kind === "symlink" && entry.kind === "symlink" && existing.target === entry.target) ||
    (existing.kind === "file" && entry.kind === "file" && existing.hostPath === entry.hostPath)
  );
  if (!same) throw new Error(`Cannot add "${path}": the manifest already has a different ${existing.kind} there`);
  // The same file asked for again with its time: the time is kept.
  if (existing.kind === "file" && entry.kind === "file" && entry.mtime !== undefined && existing.mtime === undefined) {
    manifest.set(path, { ...existing, mtime: entry.mtime });
  }
}

/**
 * Adds a host file at the same path in the guest, reproducing every symbolic link met while resolving
 * the path (`/lib64 -> usr/lib64`, `libfoo.so.1 -> libfoo.so.1.2.3`) as a link in the manifest, every
 * directory a `..` leaves, and the file itself at its resolved path, so that the guest resolves the
 * path exactly as the host does.
 *
 * @param manifest the manifest to extend
 * @param path absolute host path of a file (or a link to one)
 * @param options `keepMtime`: give the file its host modification time (default: none, i.e. 0)
 * @returns the resolved path the file was added at
 * @throws Error naming the path when it does not exist, loops (more than 40 links) or is not a file
 * @example
 * ```ts
 * import { addHostFileKeepingLinks } from "./add.ts";
 * const manifest = new Map();
 * const at = addHostFileKeepingLinks(manifest, Deno.execPath());
 * if (manifest.get(at)?.kind !== "file") throw new Error();
 * ```
 */
export function addHostFileKeepingLinks(
  manifest: Manifest,
  path: string,
  options: { keepMtime?: boolean } = {},
): string {
  if (!path.startsWith("/")) throw new TypeError(`Cannot add "${path}": not an absolute path`);
  const fail = (why: string): never => {
    throw new Error(`Cannot add "${path}": ${why}`);
  };
  const pending = path.split("/");
  const resolved: string[] = [];
  let links = 0;
  let info: Deno.FileInfo | undefined;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      // The guest resolves `dir/..` only if `dir` exists there too (ld.so opens `$ORIGIN/../lib/...`).
      if (resolved.length > 0) addOnce(manifest, "/" + resolved.join("/"), { kind: "dir", mode: 0o755 });
      resolved.pop();
      info = undefined;
      continue;
    }
    const here = "/" + [...resolved, part].join("/");
    try {
      info = Deno.lstatSync(here);
    } catch (err) {
      return fail(err instanceof Deno.errors.NotFound ? `"${here}" does not exist` : String(err));
    }
    if (info.isSymlink) {
      if (++links > MAX_SYMLINKS) fail("too many levels of symbolic links");
      const target = Deno.readLinkSync(here);
      addOnce(manifest, here, { kind: "symlink", target });
      pending.unshift(...target.split("/"));
      if (target.startsWith("/")) resolved.length = 0;
      info = undefined;
      continue;
    }
    resolved.push(part);
    if (pending.some((p) => p !== "" && p !== ".") && !info.isDirectory) fail(`"${here}" is not a directory`);
  }
  const final = "/" + resolved.join("/");
  if (info === undefined || !info.isFile) return fail("not a regular file");
  const entry: FileEntry = { kind: "file", hostPath: final, mode: (info.mode ?? 0o644) & 0o7777 };
  if (options.keepMtime && info.mtime !== null) entry.mtime = Math.floor(info.mtime.getTime() / 1000);
  addOnce(manifest, final, entry);
  return final;
}

/**
 * One line per entry, for `osv build --dry-run`: type, mode, guest path and where it comes from.
 *
 * @param entries the manifest's sorted entries
 * @returns the listing
 */
export function describeManifest(entries: readonly [string, ManifestEntry][]): string {
  const lines = entries.map(([path, entry]) => {
    switch (entry.kind) {
      case "dir":
        return `dir  ${octal(entry.mode)} ${path}`;
      case "symlink":
        return `link      ${path} -> ${entry.target}`;
      case "file":
        return `file ${octal(entry.mode)} ${path} ` +
          (entry.hostPath === undefined ? `(${entry.bytes.length} bytes)` : `<- ${entry.hostPath}`);
    }
  });
  return lines.join("\n") + (lines.length ? "\n" : "");
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
