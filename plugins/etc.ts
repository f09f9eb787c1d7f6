/**
 * `osv:etc`: the files in /etc that libc reads, generated for every image: hostname, hosts, passwd,
 * group, nsswitch.conf, resolv.conf (only with a network); localtime, services and protocols copied from
 * the host when it has them.
 *
 * It runs after every other plugin (`enforce: "post"`) and never replaces an entry: a file the app's own
 * tree, `--add` or another plugin put there wins. The content is fixed text (the same options give the
 * same bytes); only the copied files come from the host.
 *
 * @module
 */

import type { BuildConfig, GuestNetwork, Manifest, Plugin } from "../core/api.ts";
import { addEntry } from "../core/manifest.ts";
import { definePlugin } from "../core/plugin.ts";

/** Options of the etc plugin. */
export interface Options {
  /** The guest's host name (/etc/hostname, /etc/hosts). */
  hostname?: string;
  /** Host file copied to /etc/localtime (links resolved), `null` for none. */
  localtime?: string | null;
  /** Host files copied to the same path when the host has them (getservbyname, getprotobyname). */
  hostFiles?: readonly string[];
}

const defaults = {
  hostname: "osv",
  localtime: "/etc/localtime",
  hostFiles: ["/etc/services", "/etc/protocols"],
} satisfies Options;

const encoder = new TextEncoder();

/**
 * The generated text files, by guest path.
 *
 * @param hostname the guest's host name
 * @param network the guest's network settings; without them there is no resolv.conf
 * @returns guest path -> content
 * @example
 * ```ts
 * import { etcFiles } from "./etc.ts";
 * if (etcFiles("osv", undefined).get("/etc/hostname") !== "osv\n") throw new Error();
 * ```
 */
export function etcFiles(hostname: string, network: GuestNetwork | undefined): Map<string, string> {
  const files = new Map<string, string>([
    ["/etc/hostname", `${hostname}\n`],
    [
      "/etc/hosts",
      `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
    ],
    ["/etc/passwd", "root:x:0:0:root:/:/bin/sh\n"],
    ["/etc/group", "root:x:0:\n"],
    [
      "/etc/nsswitch.conf",
      "passwd:\tfiles\ngroup:\tfiles\nshadow:\tfiles\nhosts:\tfiles dns\nservices:\tfiles\nprotocols:\tfiles\n",
    ],
  ]);
  if (network !== undefined) files.set("/etc/resolv.conf", resolvConf(network));
  return files;
}

function resolvConf(network: GuestNetwork): string {
  const lines = network.nameservers.map((server) => `nameserver ${server}`);
  if (network.search && network.search.length > 0) lines.push(`search ${network.search.join(" ")}`);
  return lines.map((line) => `${line}\n`).join("");
}

/** The regular file behind a host path (links resolved), `null` when there is none. */
function hostFile(path: string): string | null {
  try {
    const resolved = Deno.realPathSync(path);
    return Deno.statSync(resolved).isFile ? resolved : null;
  } catch {
    return null;
  }
}

/**
 * The etc plugin.
 *
 * @param options host name and the localtime source
 * @returns the `osv:etc` plugin
 */
export function etc(options: Options = {}): Plugin {
  const hostname = options.hostname ?? defaults.hostname;
  const localtime = options.localtime === undefined ? defaults.localtime : options.localtime;
  const copied = new Map<string, string>(localtime === null ? [] : [["/etc/localtime", localtime]]);
  for (const path of options.hostFiles ?? defaults.hostFiles) copied.set(path, path);
  // The manifest hook sees no settings: keep those of the config hook (which runs first, after all others).
  let network: GuestNetwork | undefined;
  return definePlugin({
    name: "osv:etc",
    description:
      "generated /etc: hostname, hosts, passwd, group, nsswitch.conf, resolv.conf; localtime, services, protocols",
    enforce: "post",
    apply: "build",
    hooks: {
      config(config: BuildConfig) {
        network = config.network;
      },
      manifest(manifest: Manifest, ctx) {
        const etcDir = manifest.get("/etc");
        if (etcDir !== undefined && etcDir.kind !== "dir") {
          ctx.warn(`not generating /etc: the app's /etc is a ${etcDir.kind}`);
          return;
        }
        for (const [path, text] of etcFiles(hostname, network)) {
          if (!manifest.has(path)) addEntry(manifest, path, { kind: "file", bytes: encoder.encode(text), mode: 0o644 });
        }
        for (const [guestPath, from] of copied) {
          const hostPath = hostFile(from);
          if (hostPath !== null && !manifest.has(guestPath)) {
            addEntry(manifest, guestPath, { kind: "file", hostPath, mode: 0o644 });
          }
        }
      },
    },
  });
}
