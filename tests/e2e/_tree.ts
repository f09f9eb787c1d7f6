/**
 * A deterministic test tree of 10,000 regular files: wide and deep directories, empty files and
 * directories, symlinks (relative, absolute, to directories, dangling), names with spaces and UTF-8,
 * varied modes, and one 64 MiB file. Used by the filesystem tests and the benchmark.
 *
 * @module
 */

/** Regular files in the tree (the 64 MiB one included). */
export const TREE_FILES = 10_000;
/** Guest path of the big file, relative to the tree's root. */
export const BIG_FILE = "big/sixty-four MiB.bin";
/** Size of the big file. */
export const BIG_FILE_BYTES = 64 << 20;

/** xorshift32: fast, seeded, the same on every machine. */
function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function bytes(next: () => number, size: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return new Uint8Array(words.buffer, 0, size);
}

const MODES = [0o644, 0o600, 0o755, 0o444, 0o640];

/**
 * Writes the tree under `root` (which must not exist yet).
 *
 * @param root host directory to create
 * @returns the number of regular files written
 */
export async function writeTree(root: string): Promise<number> {
  const next = generator(0x05f5e100);
  let files = 0;
  const file = async (path: string, size: number) => {
    const full = `${root}/${path}`;
    await Deno.writeFile(full, bytes(next, size));
    await Deno.chmod(full, MODES[files % MODES.length] as number);
    files++;
  };
  await Deno.mkdir(`${root}/big`, { recursive: true });
  await file(BIG_FILE, BIG_FILE_BYTES);

  // Deep: 40 nested levels, two files at each.
  let deep = "deep";
  for (let level = 0; level < 40; level++) {
    deep += `/level ${String(level).padStart(2, "0")}`;
    await Deno.mkdir(`${root}/${deep}`, { recursive: true });
    await file(`${deep}/a.txt`, next() % 300);
    await file(`${deep}/b.dat`, next() % 5000);
  }

  // Names with spaces and UTF-8 (2-, 3- and 4-byte sequences).
  await Deno.mkdir(`${root}/names/ünïcödé ディレクトリ`, { recursive: true });
  for (const name of ["with space.txt", "  leading", "trailing  ", "ファイル.bin", "crab 🦀.rs", "ĳ.ω", "a=b,c;d"]) {
    await file(`names/${name}`, next() % 2000);
    await file(`names/ünïcödé ディレクトリ/${name}`, next() % 100);
  }

  // Empty directories and files.
  for (const dir of ["empty", "empty/nested/deeper", "also empty"]) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
  }
  await Deno.mkdir(`${root}/zero`);
  for (let i = 0; i < 20; i++) await file(`zero/empty-${i}`, 0);

  // Symlinks.
  await Deno.mkdir(`${root}/links`);
  await Deno.symlink("../names/with space.txt", `${root}/links/to file`);
  await Deno.symlink("../deep", `${root}/links/to-dir`);
  await Deno.symlink("/data/big", `${root}/links/absolute`);
  await Deno.symlink("nowhere/at/all", `${root}/links/dangling`);
  await Deno.symlink("to file", `${root}/links/chain`);

  // Wide: the rest, in directories of up to 100 files of 0..2 KiB (some exactly one block, a few larger).
  for (let d = 0; files < TREE_FILES; d++) {
    const dir = `wide/d${String(d).padStart(3, "0")}`;
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
    for (let i = 0; i < 100 && files < TREE_FILES; i++) {
      const size = i % 17 === 0 ? 4096 : i === 50 ? 20_000 + (next() % 50_000) : next() % 2048;
      await file(`${dir}/f${String(i).padStart(3, "0")}.bin`, size);
    }
  }
  return files;
}
