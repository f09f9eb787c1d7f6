/**
 * `fmt:qcow2`: QEMU copy-on-write version 3 (writer) and versions 2 and 3 (reader).
 *
 * The writer uses 64 KiB clusters and 16-bit refcounts, no compression, encryption, snapshots or backing
 * file. Layout: header (cluster 0), L1 table, then data clusters each followed by nothing until its L2
 * table's 512 MiB region is complete (the L2 table is then appended), then the refcount table and blocks.
 * Every cluster has refcount 1, so L1 and L2 entries carry the COPIED flag. Only non-zero clusters are
 * stored. All integers big-endian. Header fields: 0 magic, 4 version, 8 backing_file_offset, 20 cluster_bits,
 * 24 size, 32 crypt_method, 36 l1_size, 40 l1_table_offset, 48 refcount_table_offset, 56 refcount_table_clusters,
 * 72 incompatible, 80 compatible, 88 autoclear features, 96 refcount_order, 100 header_length.
 *
 * @module
 */

import type { DiskReader, DiskSource, ImageOutput, Plugin } from "../core/api.ts";
import { dataClusters } from "../core/disk.ts";
import { definePlugin } from "../core/plugin.ts";
import { ContainerFile, hasBytes, RangeMerger, readUnits, setU64, u64, viewOf } from "./_file.ts";

const MAGIC = [0x51, 0x46, 0x49, 0xfb]; // "QFI\xfb"
const CLUSTER_BITS = 16;
const CLUSTER_SIZE = 1 << CLUSTER_BITS;
const HEADER_LENGTH = 104;
const REFCOUNT_ORDER = 4; // 16-bit refcounts
const COPIED = 1n << 63n;
const COMPRESSED = 1n << 62n;
const OFFSET_MASK = 0x00fffffffffffe00n;
const ZERO_FLAG = 1n;

/** Incompatible feature bits: dirty, corrupt, external data file, compression type, extended L2. */
const INCOMPAT_DIRTY = 1n;
const INCOMPAT_CORRUPT = 2n;
const INCOMPAT_EXTERNAL_DATA = 4n;
const INCOMPAT_COMPRESSION_TYPE = 8n;
const INCOMPAT_EXTENDED_L2 = 16n;

function probe(head: Uint8Array): boolean {
  return hasBytes(head, 0, MAGIC);
}

/**
 * Writes a sparse disk as qcow2 v3.
 *
 * @param disk the disk
 * @param out the new file
 */
export async function writeQcow2(disk: DiskSource, out: ImageOutput): Promise<void> {
  const entriesPerL2 = CLUSTER_SIZE / 8;
  const l1Size = Math.ceil(disk.size / (CLUSTER_SIZE * entriesPerL2));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / CLUSTER_SIZE));
  const l1 = new Uint8Array(l1Clusters * CLUSTER_SIZE);
  const l1View = viewOf(l1);
  let next = 1 + l1Clusters; // next free cluster
  let l2Index = -1;
  let l2 = new Uint8Array(CLUSTER_SIZE);

  const flushL2 = async () => {
    if (l2Index < 0) return;
    const at = next++ * CLUSTER_SIZE;
    await out.write(at, l2);
    l1View.setBigUint64(l2Index * 8, BigInt(at) | COPIED);
    l2 = new Uint8Array(CLUSTER_SIZE);
  };
  for await (const cluster of dataClusters(disk, CLUSTER_SIZE)) {
    const index = Math.floor(cluster.index / entriesPerL2);
    if (index !== l2Index) {
      await flushL2();
      l2Index = index;
    }
    const at = next++ * CLUSTER_SIZE;
    await out.write(at, cluster.data);
    viewOf(l2).setBigUint64((cluster.index % entriesPerL2) * 8, BigInt(at) | COPIED);
  }
  await flushL2();

  // Refcount table and blocks cover every cluster, themselves included.
  const perBlock = CLUSTER_SIZE / (1 << (REFCOUNT_ORDER - 3));
  let blocks = 1;
  let tableClusters = 1;
  for (;;) {
    const total = next + tableClusters + blocks;
    const needBlocks = Math.ceil(total / perBlock);
    const needTable = Math.max(1, Math.ceil((needBlocks * 8) / CLUSTER_SIZE));
    if (needBlocks === blocks && needTable === tableClusters) break;
    blocks = needBlocks;
    tableClusters = needTable;
  }
  const tableAt = next;
  const total = next + tableClusters + blocks;
  const table = new Uint8Array(tableClusters * CLUSTER_SIZE);
  for (let b = 0; b < blocks; b++) {
    const blockAt = (tableAt + tableClusters + b) * CLUSTER_SIZE;
    setU64(viewOf(table), b * 8, blockAt, false);
    const block = new Uint8Array(CLUSTER_SIZE);
    const view = viewOf(block);
    const count = Math.min(perBlock, total - b * perBlock);
    for (let i = 0; i < count; i++) view.setUint16(i * 2, 1);
    await out.write(blockAt, block);
  }
  await out.write(tableAt * CLUSTER_SIZE, table);
  await out.write(CLUSTER_SIZE, l1);

  const header = new Uint8Array(CLUSTER_SIZE);
  const h = viewOf(header);
  header.set(MAGIC, 0);
  h.setUint32(4, 3);
  h.setUint32(20, CLUSTER_BITS);
  setU64(h, 24, disk.size, false);
  h.setUint32(36, l1Size);
  setU64(h, 40, CLUSTER_SIZE, false);
  setU64(h, 48, tableAt * CLUSTER_SIZE, false);
  h.setUint32(56, tableClusters);
  h.setUint32(96, REFCOUNT_ORDER);
  h.setUint32(100, HEADER_LENGTH);
  // Header extension area: the end marker (type 0, length 0) at HEADER_LENGTH is already zeros.
  await out.write(0, header);
}

/**
 * Opens a qcow2 file (version 2 or 3) for reading.
 *
 * @param path host path
 * @returns the disk
 * @throws Error naming the file and what is wrong
 */
export function openQcow2(path: string): Promise<DiskReader> {
  return ContainerFile.openReader(path, "qcow2", qcow2Reader);
}

function qcow2Reader(file: ContainerFile): DiskReader {
  if (file.size < 72) file.fail(`truncated header (the file has only ${file.size} bytes)`);
  const head = file.read(0, Math.min(file.size, HEADER_LENGTH), "header");
  if (!probe(head)) file.fail("bad magic (not a qcow2 file)");
  const h = viewOf(head);
  const version = h.getUint32(4);
  if (version !== 2 && version !== 3) file.fail(`unsupported version ${version} (this osv reads versions 2 and 3)`);
  if (version === 3 && head.length < HEADER_LENGTH) file.fail("truncated version 3 header");
  if (u64(h, 8, false) !== 0) file.fail("backing files are not supported");
  const clusterBits = h.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) file.fail(`bad cluster size 2^${clusterBits}`);
  const clusterSize = 2 ** clusterBits;
  const size = u64(h, 24, false);
  if (!Number.isSafeInteger(size)) file.fail("virtual size too large");
  if (h.getUint32(32) !== 0) file.fail("encrypted images are not supported");
  const l1Size = h.getUint32(36);
  const l1Offset = u64(h, 40, false);
  const entriesPerL2 = clusterSize / 8;
  if (l1Size < Math.ceil(size / (clusterSize * entriesPerL2))) file.fail(`L1 table too small (${l1Size} entries)`);
  if (l1Offset % clusterSize !== 0) file.fail(`L1 table offset ${l1Offset} is not cluster-aligned`);
  if (version === 3) {
    const incompatible = h.getBigUint64(72);
    if (incompatible & INCOMPAT_CORRUPT) file.fail("the image is marked corrupt");
    if (incompatible & INCOMPAT_EXTERNAL_DATA) file.fail("external data files are not supported");
    if (incompatible & INCOMPAT_EXTENDED_L2) file.fail("extended L2 entries are not supported");
    const unknown = incompatible & ~(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION_TYPE);
    if (unknown) file.fail(`unsupported incompatible features 0x${unknown.toString(16)}`);
    const headerLength = h.getUint32(100);
    if (headerLength < HEADER_LENGTH || headerLength > clusterSize) file.fail(`bad header length ${headerLength}`);
  }
  const l1Bytes = file.read(l1Offset, l1Size * 8, "L1 table");
  const l1View = viewOf(l1Bytes);
  const l2Tables = new Map<number, DataView>();

  const l2Offset = (index: number): number => {
    const entry = l1View.getBigUint64(index * 8) & OFFSET_MASK;
    const offset = Number(entry);
    if (offset !== 0 && offset % clusterSize !== 0) file.fail(`L2 table offset ${offset} is not cluster-aligned`);
    return offset;
  };
  const l2Table = (index: number): DataView | undefined => {
    let table = l2Tables.get(index);
    if (table) return table;
    const offset = l2Offset(index);
    if (offset === 0) return undefined;
    if (l2Tables.size >= 64) l2Tables.clear();
    table = viewOf(file.read(offset, clusterSize, `L2 table ${index}`));
    l2Tables.set(index, table);
    return table;
  };
  /** Host offset of a cluster; 0 for zeros. */
  const clusterOffset = (cluster: number): number => {
    const table = l2Table(Math.floor(cluster / entriesPerL2));
    if (!table) return 0;
    const entry = table.getBigUint64((cluster % entriesPerL2) * 8);
    if (entry & COMPRESSED) file.fail(`cluster ${cluster} is compressed (compressed clusters are not supported)`);
    if (version === 3 && entry & ZERO_FLAG) return 0;
    const offset = Number(entry & OFFSET_MASK);
    if (offset === 0) return 0;
    if (offset % clusterSize !== 0) file.fail(`data cluster offset ${offset} is not cluster-aligned`);
    file.checkRange(offset, clusterSize, `data cluster ${cluster}`);
    return offset;
  };
  const clusters = Math.ceil(size / clusterSize);

  return {
    size,
    read: (offset, length) =>
      readUnits(
        {
          size,
          unitSize: clusterSize,
          unit: (cluster) => {
            const at = clusterOffset(cluster);
            return at === 0 ? null : file.read(at, clusterSize, `data cluster ${cluster}`);
          },
        },
        offset,
        length,
      ),
    async *allocated() {
      const merger = new RangeMerger();
      for (let l2 = 0; l2 * entriesPerL2 < clusters; l2++) {
        if (l2Offset(l2) === 0) continue;
        const last = Math.min(clusters, (l2 + 1) * entriesPerL2);
        for (let c = l2 * entriesPerL2; c < last; c++) {
          if (clusterOffset(c) === 0) continue;
          const offset = c * clusterSize;
          const range = merger.add(offset, Math.min(clusterSize, size - offset));
          if (range) yield range;
        }
      }
      const range = merger.flush();
      if (range) yield range;
    },
    locate(offset, length) {
      const cluster = Math.floor(offset / clusterSize);
      if (length <= 0 || Math.floor((offset + length - 1) / clusterSize) !== cluster) return undefined;
      const at = clusterOffset(cluster);
      return at === 0 ? undefined : at + (offset - cluster * clusterSize);
    },
    close: () => file.close(),
  };
}

/**
 * The qcow2 format plugin.
 *
 * @returns the `fmt:qcow2` plugin
 */
export function qcow2(): Plugin {
  return definePlugin({
    name: "fmt:qcow2",
    description: "QEMU qcow2 version 3 (.qcow2)",
    formats: [{
      name: "qcow2",
      extensions: ["qcow2"],
      probe,
      write: (disk, out) => writeQcow2(disk, out),
      open: (path) => openQcow2(path),
    }],
  });
}
