/**
 * `fmt:vmdk`: VMware hosted sparse extents (VMware "Virtual Disk Format 5.0"), two subformats:
 *
 * - `vmdk`: monolithicSparse. Header (sector 0), embedded descriptor (sectors 1-20), grain directory and
 *   all grain tables (preallocated), then the grains (64 KiB = 128 sectors) in disk order.
 * - `vmdk-stream`: streamOptimized, for cloud import. Header with the grain directory "at end", the
 *   descriptor, then deflate-compressed grains each behind its LBA and size, then the grain tables,
 *   the grain directory, a footer (the header again, with the directory's offset) and end-of-stream,
 *   each behind a marker. Written strictly sequentially.
 *
 * The reader reads both (and hosted sparse extents of versions 1-3 in general). Only grains holding
 * non-zero bytes are stored. All integers little-endian. Header fields: 0 magic "KDMV", 4 version,
 * 8 flags, 12 capacity, 20 grain size, 28 descriptor offset, 36 descriptor size (sectors), 44 GTEs per
 * GT, 48 redundant GD offset, 56 GD offset, 64 overhead, 72 unclean shutdown, 73-76 newline test
 * characters, 77 compression algorithm (u16).
 *
 * @module
 */

import type { DiskReader, DiskSource, ImageOutput, Plugin } from "../core/api.ts";
import { dataClusters } from "../core/disk.ts";
import { definePlugin } from "../core/plugin.ts";
import { alignUp, ContainerFile, hasBytes, RangeMerger, readUnits, setU64, u64, viewOf } from "./_file.ts";

const MAGIC = [0x4b, 0x44, 0x4d, 0x56]; // "KDMV"
const SECTOR = 512;
const GRAIN_SECTORS = 128;
const GRAIN_SIZE = GRAIN_SECTORS * SECTOR;
const GTES_PER_GT = 512;
const DESCRIPTOR_OFFSET = 1;
const DESCRIPTOR_SECTORS = 20;
const FLAG_NEWLINE_TEST = 1;
const FLAG_ZERO_GRAIN = 4;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
const COMPRESS_DEFLATE = 1;
const GD_AT_END = 0xffffffffffffffffn;
const MARKER_EOS = 0;
const MARKER_GT = 1;
const MARKER_GD = 2;
const MARKER_FOOTER = 3;

type Subformat = "monolithicSparse" | "streamOptimized";

function isVmdk(head: Uint8Array): boolean {
  return hasBytes(head, 0, MAGIC);
}

function flagsOf(head: Uint8Array): number {
  return viewOf(head).getUint32(8, true);
}

function descriptor(size: number, subformat: Subformat, name: string): Uint8Array {
  const sectors = Math.ceil(size / SECTOR);
  const cylinders = Math.min(16383, Math.max(1, Math.floor(sectors / (16 * 63))));
  const cid = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
  const text = [
    "# Disk DescriptorFile",
    "version=1",
    `CID=${cid}`,
    "parentCID=ffffffff",
    `createType="${subformat}"`,
    "",
    "# Extent description",
    `RW ${sectors} SPARSE "${name.replaceAll('"', "")}"`,
    "",
    "# The Disk Data Base",
    "#DDB",
    "",
    `ddb.virtualHWVersion = "4"`,
    `ddb.geometry.cylinders = "${cylinders}"`,
    `ddb.geometry.heads = "16"`,
    `ddb.geometry.sectors = "63"`,
    `ddb.adapterType = "ide"`,
    "",
  ].join("\n");
  const bytes = new Uint8Array(DESCRIPTOR_SECTORS * SECTOR);
  bytes.set(new TextEncoder().encode(text));
  return bytes;
}

function header(
  fields: { version: number; flags: number; capacity: number; gdOffset: bigint; overhead: number; compress: number },
): Uint8Array {
  const bytes = new Uint8Array(SECTOR);
  const h = viewOf(bytes);
  bytes.set(MAGIC, 0);
  h.setUint32(4, fields.version, true);
  h.setUint32(8, fields.flags, true);
  setU64(h, 12, fields.capacity, true);
  setU64(h, 20, GRAIN_SECTORS, true);
  setU64(h, 28, DESCRIPTOR_OFFSET, true);
  setU64(h, 36, DESCRIPTOR_SECTORS, true);
  h.setUint32(44, GTES_PER_GT, true);
  h.setBigUint64(56, fields.gdOffset, true);
  setU64(h, 64, fields.overhead, true);
  bytes.set([0x0a, 0x20, 0x0d, 0x0a], 73);
  h.setUint16(77, fields.compress, true);
  return bytes;
}

/**
 * Writes a sparse disk as a monolithicSparse VMDK.
 *
 * @param disk the disk
 * @param out the new file
 */
export async function writeVmdkSparse(disk: DiskSource, out: ImageOutput): Promise<void> {
  const capacity = Math.ceil(disk.size / SECTOR);
  const tables = Math.ceil(capacity / (GRAIN_SECTORS * GTES_PER_GT));
  const gdOffset = DESCRIPTOR_OFFSET + DESCRIPTOR_SECTORS;
  const gdSectors = Math.ceil((tables * 4) / SECTOR);
  const gtOffset = gdOffset + gdSectors;
  const gtSectors = (GTES_PER_GT * 4) / SECTOR;
  const overhead = alignUp(gtOffset + tables * gtSectors, GRAIN_SECTORS);
  const gd = new Uint8Array(gdSectors * SECTOR);
  for (let t = 0; t < tables; t++) viewOf(gd).setUint32(t * 4, gtOffset + t * gtSectors, true);
  const gts = new Uint8Array(tables * gtSectors * SECTOR);
  const gtView = viewOf(gts);
  let next = overhead;
  for await (const grain of dataClusters(disk, GRAIN_SIZE)) {
    await out.write(next * SECTOR, grain.data);
    gtView.setUint32(grain.index * 4, next, true);
    next += GRAIN_SECTORS;
  }
  const version = 1;
  await out.write(
    0,
    header({ version, flags: FLAG_NEWLINE_TEST, capacity, gdOffset: BigInt(gdOffset), overhead, compress: 0 }),
  );
  await out.write(DESCRIPTOR_OFFSET * SECTOR, descriptor(disk.size, "monolithicSparse", out.name));
  await out.write(gdOffset * SECTOR, gd);
  await out.write(gtOffset * SECTOR, gts);
  await out.truncate(next * SECTOR);
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function marker(value: number, type: number): Uint8Array {
  const bytes = new Uint8Array(SECTOR);
  const view = viewOf(bytes);
  setU64(view, 0, value, true);
  view.setUint32(12, type, true);
  return bytes;
}

/**
 * Writes a sparse disk as a streamOptimized VMDK (sequential writes only).
 *
 * @param disk the disk
 * @param out the new file
 */
export async function writeVmdkStream(disk: DiskSource, out: ImageOutput): Promise<void> {
  const capacity = Math.ceil(disk.size / SECTOR);
  const tables = Math.ceil(capacity / (GRAIN_SECTORS * GTES_PER_GT));
  const flags = FLAG_NEWLINE_TEST | FLAG_COMPRESSED | FLAG_MARKERS;
  const fields = { version: 3, flags, capacity, overhead: GRAIN_SECTORS, compress: COMPRESS_DEFLATE };
  let position = 0; // in bytes
  const append = async (bytes: Uint8Array) => {
    await out.write(position, bytes);
    position += bytes.length;
  };
  await append(header({ ...fields, gdOffset: GD_AT_END }));
  await append(descriptor(disk.size, "streamOptimized", out.name));
  position = GRAIN_SECTORS * SECTOR;
  const gts = new Uint8Array(tables * GTES_PER_GT * 4);
  const gtView = viewOf(gts);
  for await (const grain of dataClusters(disk, GRAIN_SIZE)) {
    const compressed = await deflate(grain.data);
    const record = new Uint8Array(alignUp(12 + compressed.length, SECTOR));
    const view = viewOf(record);
    setU64(view, 0, grain.index * GRAIN_SECTORS, true);
    view.setUint32(8, compressed.length, true);
    record.set(compressed, 12);
    gtView.setUint32(grain.index * 4, position / SECTOR, true);
    await append(record);
  }
  const gdSectors = Math.ceil((tables * 4) / SECTOR);
  const gd = new Uint8Array(gdSectors * SECTOR);
  const gtBytes = GTES_PER_GT * 4;
  for (let t = 0; t < tables; t++) {
    const table = gts.subarray(t * gtBytes, (t + 1) * gtBytes);
    if (table.every((b) => b === 0)) continue; // no grain in this table: directory entry 0
    await append(marker(gtBytes / SECTOR, MARKER_GT));
    viewOf(gd).setUint32(t * 4, position / SECTOR, true);
    await append(table);
  }
  await append(marker(gdSectors, MARKER_GD));
  const gdOffset = position / SECTOR;
  await append(gd);
  await append(marker(1, MARKER_FOOTER));
  await append(header({ ...fields, gdOffset: BigInt(gdOffset) }));
  await append(marker(0, MARKER_EOS));
}

/**
 * Opens a hosted sparse VMDK (monolithicSparse or streamOptimized) for reading.
 *
 * @param path host path
 * @returns the disk
 * @throws Error naming the file and what is wrong
 */
export function openVmdk(path: string): Promise<DiskReader> {
  return ContainerFile.openReader(path, "vmdk", vmdkReader);
}

function vmdkReader(file: ContainerFile): DiskReader {
  if (file.size < SECTOR) file.fail(`truncated header (the file has only ${file.size} bytes)`);
  let head = file.read(0, SECTOR, "header");
  if (!isVmdk(head)) {
    const text = new TextDecoder().decode(head.subarray(0, 64));
    if (text.startsWith("# Disk DescriptorFile")) {
      file.fail("descriptor-only VMDK files are not supported (only monolithicSparse and streamOptimized)");
    }
    file.fail("bad magic (not a hosted sparse VMDK)");
  }
  let h = viewOf(head);
  const version = h.getUint32(4, true);
  if (version < 1 || version > 3) file.fail(`unsupported version ${version} (this osv reads versions 1 to 3)`);
  if (h.getBigUint64(56, true) === GD_AT_END) {
    if (file.size < 3 * SECTOR) file.fail("truncated file (no footer)");
    head = file.read(file.size - 2 * SECTOR, SECTOR, "footer");
    if (!isVmdk(head)) file.fail("bad footer magic (truncated stream?)");
    h = viewOf(head);
    if (h.getBigUint64(56, true) === GD_AT_END) file.fail("the footer has no grain directory offset");
  }
  const flags = h.getUint32(8, true);
  const compressed = (flags & FLAG_COMPRESSED) !== 0;
  if (compressed && h.getUint16(77, true) !== COMPRESS_DEFLATE) {
    file.fail(`unsupported compression algorithm ${h.getUint16(77, true)}`);
  }
  const capacity = u64(h, 12, true);
  const grainSectors = u64(h, 20, true);
  const gtes = h.getUint32(44, true);
  const gdOffset = u64(h, 56, true);
  if (!Number.isSafeInteger(capacity * SECTOR)) file.fail(`capacity ${capacity} sectors is too large`);
  if (!(grainSectors >= 8 && grainSectors <= 2048 && (grainSectors & (grainSectors - 1)) === 0)) {
    file.fail(`bad grain size ${grainSectors} sectors`);
  }
  if (gtes < 1 || gtes > 8192) file.fail(`bad number of grain table entries ${gtes}`);
  const size = capacity * SECTOR;
  const grainSize = grainSectors * SECTOR;
  const grains = Math.ceil(capacity / grainSectors);
  const tables = Math.ceil(grains / gtes);
  const gd = viewOf(file.read(gdOffset * SECTOR, tables * 4, "grain directory"));
  const gtCache = new Map<number, DataView | null>();
  const gt = (table: number): DataView | null => {
    let found = gtCache.get(table);
    if (found !== undefined) return found;
    const sector = gd.getUint32(table * 4, true);
    found = sector === 0 ? null : viewOf(file.read(sector * SECTOR, gtes * 4, `grain table ${table}`));
    if (gtCache.size >= 256) gtCache.clear();
    gtCache.set(table, found);
    return found;
  };
  /** Sector of a grain, or 0 for zeros. */
  const grainSector = (grain: number): number => {
    const table = gt(Math.floor(grain / gtes));
    if (!table) return 0;
    const sector = table.getUint32((grain % gtes) * 4, true);
    if (sector === 1 && (flags & FLAG_ZERO_GRAIN || version >= 2)) return 0; // zeroed grain
    if (sector !== 0 && sector * SECTOR >= file.size) {
      file.fail(`grain ${grain} at sector ${sector} is past the end of the file (${file.size} bytes)`);
    }
    return sector;
  };
  const readGrain = async (grain: number): Promise<Uint8Array | null> => {
    const sector = grainSector(grain);
    if (sector === 0) return null;
    if (!compressed) return file.read(sector * SECTOR, grainSize, `grain ${grain}`);
    const record = viewOf(file.read(sector * SECTOR, 12, `grain ${grain}`));
    const lba = u64(record, 0, true);
    const length = record.getUint32(8, true);
    if (lba !== grain * grainSectors) file.fail(`grain ${grain} is marked with LBA ${lba}`);
    const packed = file.read(sector * SECTOR + 12, length, `compressed grain ${grain}`);
    let data: Uint8Array;
    try {
      data = await inflate(packed);
    } catch (err) {
      throw file.error(`grain ${grain} does not decompress (${err instanceof Error ? err.message : String(err)})`);
    }
    if (data.length > grainSize) file.fail(`grain ${grain} decompresses to ${data.length} bytes`);
    if (data.length === grainSize) return data;
    const full = new Uint8Array(grainSize);
    full.set(data);
    return full;
  };
  return {
    size,
    read: (offset, length) => readUnits({ size, unitSize: grainSize, unit: readGrain }, offset, length),
    async *allocated() {
      const merger = new RangeMerger();
      for (let t = 0; t < tables; t++) {
        if (!gt(t)) continue;
        for (let g = t * gtes; g < Math.min(grains, (t + 1) * gtes); g++) {
          if (grainSector(g) === 0) continue;
          const offset = g * grainSize;
          const range = merger.add(offset, Math.min(grainSize, size - offset));
          if (range) yield range;
        }
      }
      const range = merger.flush();
      if (range) yield range;
    },
    locate(offset, length) {
      if (compressed) return undefined;
      const grain = Math.floor(offset / grainSize);
      if (length <= 0 || Math.floor((offset + length - 1) / grainSize) !== grain) return undefined;
      const sector = grainSector(grain);
      return sector === 0 ? undefined : sector * SECTOR + (offset - grain * grainSize);
    },
    close: () => file.close(),
  };
}

/**
 * The VMDK format plugin: `vmdk` (monolithicSparse) and `vmdk-stream` (streamOptimized).
 *
 * @returns the `fmt:vmdk` plugin
 */
export function vmdk(): Plugin {
  return definePlugin({
    name: "fmt:vmdk",
    description: "VMware VMDK: monolithicSparse (vmdk), streamOptimized (vmdk-stream) (.vmdk)",
    formats: [{
      name: "vmdk",
      extensions: ["vmdk"],
      probe: (head) => isVmdk(head) && (flagsOf(head) & FLAG_COMPRESSED) === 0,
      write: (disk, out) => writeVmdkSparse(disk, out),
      open: (path) => openVmdk(path),
    }, {
      name: "vmdk-stream",
      qemuFormat: "vmdk",
      extensions: ["vmdk"],
      probe: (head) => isVmdk(head) && (flagsOf(head) & FLAG_COMPRESSED) !== 0,
      write: (disk, out) => writeVmdkStream(disk, out),
      open: (path) => openVmdk(path),
    }],
  });
}
