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
import type { ImageFile } from "./providers.ts";
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
 * Describes an image: format, sizes, the osv header and optionally the files of its filesystem.
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
      const fs = registry.get("filesystem", header.fsType);
      if (!fs.provider.list) {
        throw new Error(`Cannot list the files of "${image}": filesystem "${header.fsType}" cannot be listed`);
      }
      const read = (offset: number, length: number) =>
        disk.read(header.fsOffset + offset, Math.max(0, Math.min(length, header.fsSize - offset)));
      try {
        info.files = await fs.provider.list(read, header.fsSize);
      } catch (err) {
        throw new Error(`Cannot list the files of "${image}": ${(err as Error).message}`, { cause: err });
      }
    }
    return info;
  } finally {
    disk.close();
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
