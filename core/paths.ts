/**
 * POSIX path helpers (the subset of `node:path`/`node:url` osv needs). Kept here so the CLI does not
 * start Deno's Node-compat layer, which costs ~15 ms at start-up.
 *
 * @module
 */

/** Whether `path` starts at the root. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** Collapses `.`, `..` and repeated slashes; keeps a leading `/`; `""` becomes `"."`. */
export function normalize(path: string): string {
  const absolute = isAbsolute(path);
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && (parts.length > 0 && parts[parts.length - 1] !== "..")) parts.pop();
    else if (part !== ".." || !absolute) parts.push(part);
  }
  const joined = parts.join("/");
  return absolute ? `/${joined}` : joined || ".";
}

/** Resolves paths right to left until one is absolute, starting from the current directory. */
export function resolve(...paths: string[]): string {
  let out = "";
  for (let i = paths.length - 1; i >= 0 && !isAbsolute(out); i--) {
    const p = paths[i]!;
    if (p !== "") out = out === "" ? p : `${p}/${out}`;
  }
  if (!isAbsolute(out)) out = out === "" ? Deno.cwd() : `${Deno.cwd()}/${out}`;
  return normalize(out);
}

function trimTrailing(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" && path !== "" ? "/" : trimmed;
}

/** The directory part: `dirname("a/b")` is `"a"`, `dirname("b")` is `"."`, `dirname("/b")` is `"/"`. */
export function dirname(path: string): string {
  const p = trimTrailing(path);
  if (p === "/") return "/";
  const slash = p.lastIndexOf("/");
  if (slash < 0) return ".";
  return slash === 0 ? "/" : p.slice(0, slash);
}

/** The last part, without `suffix` when it ends with it. */
export function basename(path: string, suffix?: string): string {
  const p = trimTrailing(path);
  const base = p === "/" ? "" : p.slice(p.lastIndexOf("/") + 1);
  return suffix && base.endsWith(suffix) ? base.slice(0, -suffix.length) : base;
}

/** The extension with its dot (`".gz"` for `"a.tar.gz"`), `""` for none, a leading-dot name or `..`. */
export function extname(path: string): string {
  const base = basename(path);
  const dot = base.lastIndexOf(".");
  return dot <= 0 || base === ".." ? "" : base.slice(dot);
}

/** A `file:` URL for a path (made absolute against the current directory). */
export function toFileUrl(path: string): URL {
  const url = new URL("file:///");
  // The URL parser percent-encodes what a path needs, except these two, which would end it.
  url.pathname = resolve(path).replaceAll("%", "%25").replaceAll("#", "%23").replaceAll("?", "%3F");
  return url;
}
