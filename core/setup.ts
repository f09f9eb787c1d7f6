/**
 * Makes sure the host has the system packages osv needs (Debian/Ubuntu): checks each package's
 * binary; installs the missing ones with apt-get when root, else says which command to run.
 *
 * @module
 */

import { findExecutable } from "./host.ts";

/** Binary that shows a Debian package is installed. */
export const PACKAGE_BINARIES: Readonly<Record<string, string>> = {
  "qemu-system-x86": "qemu-system-x86_64",
  "qemu-utils": "qemu-img",
  "gcc": "gcc",
  "clang": "clang",
  "musl-tools": "musl-gcc",
  "cpio": "cpio",
  "binutils": "ld",
  "curl": "curl",
  "iproute2": "ip",
  "wrk": "wrk",
};

/** The default set for building and running images. */
export const DEFAULT_HOST_PACKAGES: readonly string[] = ["qemu-system-x86", "gcc", "musl-tools", "qemu-utils", "cpio"];

/**
 * The packages whose binary is missing.
 *
 * @param packages Debian package names
 * @returns the missing ones, in the given order
 */
export function missingPackages(packages: readonly string[]): string[] {
  return packages.filter((name) => findExecutable(PACKAGE_BINARIES[name] ?? name) === null);
}

let aptUpdated = false;

async function apt(args: string[]): Promise<void> {
  const status = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`Cannot install host packages: apt-get ${args.join(" ")} failed`);
}

/**
 * Installs missing host packages (as root), or throws with the exact command to run.
 *
 * @param packages Debian package names (default {@linkcode DEFAULT_HOST_PACKAGES})
 * @param options `log` receives progress lines
 * @throws Error when packages are missing and this process is not root (message has the sudo command)
 */
export async function ensureHostTools(
  packages: readonly string[] = DEFAULT_HOST_PACKAGES,
  options: { log?: (line: string) => void } = {},
): Promise<void> {
  const missing = missingPackages(packages);
  if (missing.length === 0) return;
  const log = options.log ?? ((line: string) => console.error(line));
  if (Deno.uid() !== 0) {
    throw new Error(
      `Missing host packages: ${missing.join(", ")}. Install them with:\n  sudo apt-get install -y ${
        missing.join(" ")
      }`,
    );
  }
  if (!aptUpdated) {
    log("osv: running apt-get update");
    await apt(["update"]);
    aptUpdated = true;
  }
  log(`osv: installing ${missing.join(" ")}`);
  await apt(["install", "-y", ...missing]);
  const still = missingPackages(missing);
  if (still.length > 0) {
    throw new Error(`Cannot install host packages: ${still.join(", ")} still missing after apt-get`);
  }
}
