/**
 * `fmt:vdi`: VirtualBox disk images, version 1.1, dynamic (writer) and dynamic or static (reader).
 *
 * Layout: a 512-byte header, the block map (one u32 per 1 MiB block: the block's index in the data area,
 * 0xffffffff unallocated, 0xfffffffe zeros), then the allocated blocks in disk order. Only blocks holding
 * non-zero bytes are stored. All integers little-endian. Header fields: 0 text, 64 signature,
 * 68 version, 72 header size, 76 image type, 80 flags, 84 description (256), 340 block map offset,
 * 344 data offset, 348 geometry (c/h/s), 360 sector size, 368 disk size (u64), 376 block size,
 * 380 block extra, 384 blocks in image, 388 blocks allocated, 392 image UUID, 408 last snapshot UUID,
 * 424 link UUID, 440 parent UUID.
 *
 * @module
 */

import type { DiskReader, DiskSource, ImageOutput, Plugin } from "../core/api.ts";
import { dataClusters } from "../core/disk.ts";
import { definePlugin } from "../core/plugin.ts";
import { alignUp, ContainerFile, hasBytes, RangeMerger, readUnits, setU64, u64, viewOf } from "./_file.ts";

const SIGNATURE = 0xbeda107f;
const SIGNATURE_BYTES = [0x7f, 0x10, 0xda, 0xbe];
const VERSION = 0x00010001;
const HEADER_SIZE = 0x180; // bytes after the pre-header (text, signature, version)
const TYPE_DYNAMIC = 1;
const TYPE_STATIC = 2;
const BLOCK_SIZE = 1 << 20;
const SECTOR = 512;
const UNALLOCATED = 0xffffffff;
const ZERO_BLOCK = 0xfffffffe;
const TEXT = "<<< Oracle VM VirtualBox Disk Image >>>\n";

function probe(head: Uint8Array): boolean {
  return hasBytes(head, 64, SIGNATURE_BYTES);
}

function uuidBytes(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16)).map((b, i) =>
    i === 6 ? (b & 0x0f) | 0x40 : i === 8 ? (b & 0x3f) | 0x80 : b
  );
}

/**
 * Writes a sparse disk as a dynamic VDI.
 *
 * @param disk the disk
 * @param out the new file
 */
export async function writeVdi(disk: DiskSource, out: ImageOutput): Promise<void> {
  const blocks = Math.ceil(disk.size / BLOCK_SIZE);
  if (blocks >= ZERO_BLOCK) throw new RangeError(`Disk of ${disk.size} bytes is too large for VDI`);
  const mapOffset = SECTOR;
  const map = new Uint8Array(alignUp(blocks * 4, SECTOR));
  const mapView = viewOf(map);
  for (let b = 0; b < blocks; b++) mapView.setUint32(b * 4, UNALLOCATED, true);
  const dataOffset = mapOffset + map.length;
  let allocated = 0;
  for await (const block of dataClusters(disk, BLOCK_SIZE)) {
    await out.write(dataOffset + allocated * BLOCK_SIZE, block.data);
    mapView.setUint32(block.index * 4, allocated++, true);
  }
  const header = new Uint8Array(SECTOR);
  const h = viewOf(header);
  header.set(new TextEncoder().encode(TEXT), 0);
  h.setUint32(64, SIGNATURE, true);
  h.setUint32(68, VERSION, true);
  h.setUint32(72, HEADER_SIZE, true);
  h.setUint32(76, TYPE_DYNAMIC, true);
  h.setUint32(340, mapOffset, true);
  h.setUint32(344, dataOffset, true);
  h.setUint32(360, SECTOR, true);
  setU64(h, 368, disk.size, true);
  h.setUint32(376, BLOCK_SIZE, true);
  h.setUint32(384, blocks, true);
  h.setUint32(388, allocated, true);
  header.set(uuidBytes(), 392);
  header.set(uuidBytes(), 408);
  await out.write(mapOffset, map);
  await out.write(0, header);
  await out.truncate(dataOffset + allocated * BLOCK_SIZE);
}

/**
 * Opens a VDI file for reading.
 *
 * @param path host path
 * @returns the disk
 * @throws Error naming the file and what is wrong
 */
export function openVdi(path: string): Promise<DiskReader> {
  return ContainerFile.openReader(path, "vdi", vdiReader);
}

function vdiReader(file: ContainerFile): DiskReader {
  if (file.size < SECTOR) file.fail(`truncated header (the file has only ${file.size} bytes)`);
  const header = file.read(0, SECTOR, "header");
  const h = viewOf(header);
  if (h.getUint32(64, true) !== SIGNATURE) file.fail("bad magic (not a VDI file)");
  const version = h.getUint32(68, true);
  if (version !== VERSION) {
    file.fail(`unsupported version ${version >>> 16}.${version & 0xffff} (this osv reads version 1.1)`);
  }
  const type = h.getUint32(76, true);
  if (type !== TYPE_DYNAMIC && type !== TYPE_STATIC) file.fail(`unsupported image type ${type}`);
  const mapOffset = h.getUint32(340, true);
  const dataOffset = h.getUint32(344, true);
  const sectorSize = h.getUint32(360, true);
  const size = u64(h, 368, true);
  const blockSize = h.getUint32(376, true);
  const blocks = h.getUint32(384, true);
  if (sectorSize !== SECTOR) file.fail(`unsupported sector size ${sectorSize}`);
  if (blockSize !== BLOCK_SIZE) file.fail(`unsupported block size ${blockSize} (this osv reads 1 MiB blocks)`);
  if (h.getUint32(380, true) !== 0) file.fail("blocks with extra data are not supported");
  if (!Number.isSafeInteger(size) || size > blocks * blockSize) {
    file.fail(`disk size ${size} is larger than its ${blocks} blocks`);
  }
  if (!header.subarray(424, 456).every((b) => b === 0)) file.fail("differencing images are not supported");
  if (mapOffset % SECTOR !== 0 || dataOffset % SECTOR !== 0) file.fail("block map or data offset not sector-aligned");
  if (mapOffset < SECTOR || dataOffset < mapOffset + blocks * 4) file.fail("block map and data area overlap");
  const map = viewOf(file.read(mapOffset, blocks * 4, "block map"));
  if (dataOffset > file.size) file.fail(`data offset ${dataOffset} is past the end of the file (${file.size} bytes)`);

  const blockOffset = (block: number): number => {
    const entry = map.getUint32(block * 4, true);
    if (entry === UNALLOCATED || entry === ZERO_BLOCK) return -1;
    if (entry >= blocks) file.fail(`block ${block} maps to ${entry}, past the ${blocks} blocks of the image`);
    const at = dataOffset + entry * blockSize;
    file.checkRange(at, blockSize, `block ${block}`);
    return at;
  };
  return {
    size,
    read: (offset, length) =>
      readUnits(
        {
          size,
          unitSize: blockSize,
          unit: (block) => {
            const at = blockOffset(block);
            return at < 0 ? null : file.read(at, blockSize, `block ${block}`);
          },
        },
        offset,
        length,
      ),
    async *allocated() {
      const merger = new RangeMerger();
      for (let b = 0; b < blocks; b++) {
        if (blockOffset(b) < 0) continue;
        const offset = b * blockSize;
        if (offset >= size) break;
        const range = merger.add(offset, Math.min(blockSize, size - offset));
        if (range) yield range;
      }
      const range = merger.flush();
      if (range) yield range;
    },
    locate(offset, length) {
      const block = Math.floor(offset / blockSize);
      if (length <= 0 || Math.floor((offset + length - 1) / blockSize) !== block || block >= blocks) return undefined;
      const at = blockOffset(block);
      return at < 0 ? undefined : at + (offset - block * blockSize);
    },
    close: () => file.close(),
  };
}

/**
 * The VDI format plugin.
 *
 * @returns the `fmt:vdi` plugin
 */
export function vdi(): Plugin {
  return definePlugin({
    name: "fmt:vdi",
    description: "VirtualBox VDI, dynamic (.vdi)",
    formats: [{
      name: "vdi",
      extensions: ["vdi"],
      probe,
      write: (disk, out) => writeVdi(disk, out),
      open: (path) => openVdi(path),
    }],
  });
}
