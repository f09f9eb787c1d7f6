/**
 * The host's `/etc/ld.so.conf`: the directories ldconfig puts into ld.so.cache, in order. Read only when
 * the cache itself is absent, so that libraries from those directories are still found.
 *
 * Syntax as ldconfig reads it: one directory per line, `#` starts a comment, `include PATTERN...` reads
 * other files (glob patterns, relative to the including file's directory, matches in sorted order),
 * `hwcap` lines are ignored.
 *
 * @module
 */

import { dirname, normalize, resolve } from "./paths.ts";

/** Deeper nesting than this is a loop in the includes, not a configuration. */
const MAX_INCLUDE_DEPTH = 16;

/**
 * Reads an ld.so.conf file and everything it includes.
 *
 * @param path the file (default `/etc/ld.so.conf`)
 * @returns the directories in order without duplicates; `null` when the file does not exist
 * @throws Error when a file exists but cannot be read
 */
export function readLdSoConf(path = "/etc/ld.so.conf"): string[] | null {
  const dirs: string[] = [];
  const seen = new Set<string>();
  if (!readInto(path, 0, dirs, seen, new Set())) return null;
  return dirs;
}

function readInto(path: string, depth: number, dirs: string[], seen: Set<string>, reading: Set<string>): boolean {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw new Error(`Cannot read "${path}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  // A file including itself (directly or not) adds nothing new: stop instead of recursing forever.
  if (reading.has(path) || depth > MAX_INCLUDE_DEPTH) return true;
  reading.add(path);
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const include = /^include[ \t]+(.*)$/.exec(line);
    if (include) {
      for (const pattern of include[1]!.split(/[ \t]+/)) {
        for (const file of expandGlob(resolve(dirname(path), pattern))) readInto(file, depth + 1, dirs, seen, reading);
      }
      continue;
    }
    if (/^hwcap[ \t]/i.test(line)) continue;
    // `dir=libc6` (an old type suffix) names the directory before the `=`.
    const dir = normalize(line.replace(/=.*$/, "").trim());
    if (!dir.startsWith("/") || seen.has(dir)) continue;
    seen.add(dir);
    dirs.push(dir);
  }
  reading.delete(path);
  return true;
}

function globToRegExp(component: string): RegExp {
  let source = "";
  for (let i = 0; i < component.length; i++) {
    const c = component[i]!;
    if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const close = component.indexOf("]", i + 2);
      if (close < 0) source += "\\[";
      else {
        const body = component.slice(i + 1, close);
        const negate = body.startsWith("!") || body.startsWith("^");
        const set = (negate ? body.slice(1) : body).replace(/[\\\]]/g, "\\$&");
        source += `[${negate ? "^" : ""}${set}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/**
 * Expands an absolute glob pattern like glob(3): sorted matches that exist, hidden names only matched by
 * patterns starting with a dot.
 *
 * @param pattern absolute path pattern (`*`, `?`, `[...]` within components)
 * @returns matching paths
 */
export function expandGlob(pattern: string): string[] {
  let found = ["/"];
  for (const component of pattern.split("/").filter((c) => c !== "")) {
    const next: string[] = [];
    for (const base of found) {
      const prefix = base === "/" ? "/" : `${base}/`;
      if (!/[*?[]/.test(component)) {
        next.push(prefix + component);
        continue;
      }
      const regexp = globToRegExp(component);
      let names: string[];
      try {
        names = [...Deno.readDirSync(base)].map((e) => e.name);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (name.startsWith(".") && !component.startsWith(".")) continue;
        if (regexp.test(name)) next.push(prefix + name);
      }
    }
    found = next;
  }
  return found.filter((p) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  });
}
