/**
 * `osv build --add HOST[:GUEST]`: host files and whole directory trees into the manifest, keeping
 * modes, symbolic links (as links) and empty directories.
 *
 * @module
 */

import { addEntry, type Manifest, type ManifestEntry, normalizeGuestPath } from "./manifest.ts";
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
