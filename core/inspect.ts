/**
 * The image commands besides build and run: `osv convert`, `osv inspect` and `osv image set-cmdline`.
 * Each opens the image through its format's reader (probed from the content), so they work the same on
 * raw, qcow2, vmdk and vdi.
 *
 * @module
 */

import { builtinPlugins } from "./builtins.ts";
import { formatForExtension, openImage, readerSource, writeImageFile } from "./disk.ts";
import { CMDLINE_AREA_SIZE, CMDLINE_OFFSET, encodeCmdlineArea, type ImageHeader, readImageHeader } from "./image.ts";
import type { Plugin } from "./plugin.ts";
import { PluginRegistry } from "./registry.ts";

function registryOf(plugins: readonly Plugin[] | undefined, warn?: (line: string) => void): PluginRegistry {
  return new PluginRegistry([...builtinPlugins(), ...plugins ?? []], warn ? { warn } : {});
}

/** What `osv convert` did. */
export interface ConvertResult {
  input: string;
  inputFormat: string;
  output: string;
  outputFormat: string;
  /** Virtual disk size. */
  virtualSize: number;
  /** Size of the file written. */
  size: number;
}

/**
 * Converts an image between formats, streaming and keeping it sparse.
 *
 * @param request input, output, output format (default: from the output's extension) and plugins
 * @returns what was converted
 * @throws Error naming the file when the input cannot be read or the output format is unknown
 */
export async function convertImage(
  request: { input: string; output: string; format?: string; plugins?: readonly Plugin[] },
): Promise<ConvertResult> {
  const registry = registryOf(request.plugins);
  const target = request.format !== undefined
    ? registry.get("format", request.format)
    : formatForExtension(registry, request.output);
  if (!target) {
    throw new Error(
      `Cannot convert to "${request.output}": unknown extension; name a format with --format (${
        registry.all("format").map((f) => f.provider.name).join(", ")
      })`,
    );
  }
  const { format, disk } = await openImage(registry, request.input, "convert");
  try {
    const size = await writeImageFile(target.provider, {
      disk: readerSource(disk),
      path: request.output,
      ctx: target.ctx,
    });
    return {
      input: request.input,
      inputFormat: format.provider.name,
      output: request.output,
      outputFormat: target.provider.name,
      virtualSize: disk.size,
      size,
    };
  } finally {
    disk.close();
  }
}

/** One file of a ramfs (cpio newc) filesystem. */
export interface ImageFile {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  size: number;
}

/** What `osv inspect` reports. */
export interface ImageInfo {
  image: string;
  format: string;
  virtualSize: number;
  /** Length of the file. */
  fileSize: number;
  /** Bytes the file occupies on the host's disk. */
  diskUsage: number;
  /** Bytes of the virtual disk that hold data. */
  allocated: number;
  /** The osv header. */
  header: ImageHeader;
  /** Files of the filesystem (with `files`). */
  files?: ImageFile[];
}

/**
 * Describes an image: format, sizes, the osv header and optionally the files of its ramfs.
 *
 * @param image the image path
 * @param options `files` to list the filesystem; plugins
 * @returns the description
 * @throws Error naming the image when it cannot be read or is not an osv image
 */
export async function inspectImage(
  image: string,
  options: { files?: boolean; plugins?: readonly Plugin[] } = {},
): Promise<ImageInfo> {
  const registry = registryOf(options.plugins);
  const { format, disk } = await openImage(registry, image, "inspect");
  try {
    const header = await readImageHeader(disk, image);
    let allocated = 0;
    for await (const range of disk.allocated()) allocated += range.length;
    const stat = await Deno.stat(image);
    const info: ImageInfo = {
      image,
      format: format.provider.name,
      virtualSize: disk.size,
      fileSize: stat.size,
      diskUsage: (stat.blocks ?? Math.ceil(stat.size / 512)) * 512,
      allocated,
      header,
    };
    if (options.files) {
      if (header.fsType !== "ramfs") {
        throw new Error(`Cannot list the files of "${image}": filesystem "${header.fsType}" is not ramfs`);
      }
      const fs = await disk.read(header.fsOffset, header.fsSize);
      info.files = listCpio(fs, image);
    }
    return info;
  } finally {
    disk.close();
  }
}

const S_IFMT = 0o170000;

/**
 * Lists the entries of a cpio "newc" archive.
 *
 * @param bytes the archive
 * @param name the image, for messages
 * @returns the entries, in archive order, without the trailer
 * @throws Error when the archive is malformed
 */
export function listCpio(bytes: Uint8Array, name: string): ImageFile[] {
  const decoder = new TextDecoder();
  const fail = (why: string): never => {
    throw new Error(`Cannot list the files of "${name}": ${why}`);
  };
  const files: ImageFile[] = [];
  let at = 0;
  for (;;) {
    if (at + 110 > bytes.length) fail(`cpio archive truncated at ${at}`);
    const magic = decoder.decode(bytes.subarray(at, at + 6));
    if (magic !== "070701" && magic !== "070702") fail(`bad cpio magic at ${at}`);
    const field = (i: number) => {
      const text = decoder.decode(bytes.subarray(at + 6 + i * 8, at + 14 + i * 8));
      if (!/^[0-9a-fA-F]{8}$/.test(text)) fail(`bad cpio header at ${at}`);
      return parseInt(text, 16);
    };
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameEnd = at + 110 + nameSize;
    if (nameSize < 1 || nameEnd > bytes.length) fail(`cpio name past the end at ${at}`);
    // The name ends at its first NUL: the writer may pad it to page-align the file's data.
    const rawName = bytes.subarray(at + 110, nameEnd - 1);
    const nul = rawName.indexOf(0);
    const path = decoder.decode(nul < 0 ? rawName : rawName.subarray(0, nul));
    const dataAt = Math.ceil(nameEnd / 4) * 4;
    if (dataAt + size > bytes.length) fail(`cpio data of "${path}" past the end`);
    if (path === "TRAILER!!!") return files;
    const kind = mode & S_IFMT;
    files.push({
      path: "/" + path.replace(/^\.?\//, ""),
      type: kind === 0o100000 ? "file" : kind === 0o040000 ? "dir" : kind === 0o120000 ? "symlink" : "other",
      mode: mode & 0o7777,
      size,
    });
    at = Math.ceil((dataAt + size) / 4) * 4;
  }
}

/**
 * Changes the command line stored in an image, in place.
 *
 * @param image the image path
 * @param cmdline the new command line
 * @param options plugins
 * @returns the previous command line
 * @throws Error when the image is not an osv image or its format stores the area compressed
 */
export async function setImageCmdline(
  image: string,
  cmdline: string,
  options: { plugins?: readonly Plugin[] } = {},
): Promise<string> {
  const area = encodeCmdlineArea(cmdline);
  const registry = registryOf(options.plugins);
  const { format, disk } = await openImage(registry, image, "change the command line of");
  let at: number | undefined;
  let previous: string;
  try {
    previous = (await readImageHeader(disk, image)).cmdline;
    at = disk.locate?.(CMDLINE_OFFSET, CMDLINE_AREA_SIZE);
  } finally {
    disk.close();
  }
  if (at === undefined) {
    throw new Error(
      `Cannot change the command line of "${image}": the ${format.provider.name} format does not store it ` +
        `in place (convert the image to raw, qcow2, vmdk or vdi first)`,
    );
  }
  const file = Deno.openSync(image, { write: true });
  try {
    file.seekSync(at, Deno.SeekMode.Start);
    for (let done = 0; done < area.length;) done += file.writeSync(area.subarray(done));
  } finally {
    file.close();
  }
  return previous;
}
