/**
 * Private helpers of the format plugins: a validating, synchronous reader of container files (errors name
 * the file and the format), and small integer helpers.
 *
 * @module
 */

/** A container file opened for validated reads. */
export class ContainerFile {
  readonly size: number;
  #file: Deno.FsFile;

  private constructor(readonly path: string, readonly format: string, file: Deno.FsFile) {
    this.#file = file;
    this.size = file.statSync().size;
  }

  /**
   * Opens a file.
   *
   * @param path host path
   * @param format format name for messages
   * @returns the file
   * @throws Error `Cannot open <format> image "<path>": no such file`
   */
  static open(path: string, format: string): ContainerFile {
    try {
      return new ContainerFile(path, format, Deno.openSync(path, { read: true }));
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound
        ? "no such file"
        : err instanceof Error
        ? err.message
        : String(err);
      throw new Error(`Cannot open ${format} image "${path}": ${why}`, { cause: err });
    }
  }

  /**
   * Opens a file and builds a reader over it, closing the file when the reader finds it invalid.
   *
   * @param path host path
   * @param format format name for messages
   * @param makeReader validates the container and returns its disk reader
   * @returns the reader
   */
  static openReader<T>(path: string, format: string, makeReader: (file: ContainerFile) => T): Promise<T> {
    let file: ContainerFile | undefined;
    try {
      file = ContainerFile.open(path, format);
      return Promise.resolve(makeReader(file));
    } catch (err) {
      file?.close();
      return Promise.reject(err);
    }
  }

  /** An Error `Cannot read <format> image "<path>": <why>`. */
  error(why: string): Error {
    return new Error(`Cannot read ${this.format} image "${this.path}": ${why}`);
  }

  /** Throws {@linkcode error}. */
  fail(why: string): never {
    throw this.error(why);
  }

  /**
   * Checks that `[offset, offset + length)` lies inside the file.
   *
   * @param what what the range holds, for the message
   */
  checkRange(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.size) {
      this.fail(`${what} (offset ${offset}, ${length} bytes) extends past the end of the file (${this.size} bytes)`);
    }
  }

  /**
   * Reads exactly `length` bytes at `offset`.
   *
   * @param what what the range holds, for the message when it is past the end
   */
  read(offset: number, length: number, what: string): Uint8Array {
    this.checkRange(offset, length, what);
    const buf = new Uint8Array(length);
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = this.#file.readSync(buf.subarray(got));
      if (n === null) this.fail(`file truncated while reading ${what}`);
      got += n;
    }
    return buf;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }
}

/** A DataView over a byte array. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A u64 as a number; values above 2^53 become `Infinity` so that range checks fail. */
export function u64(view: DataView, at: number, littleEndian: boolean): number {
  const v = view.getBigUint64(at, littleEndian);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

/** Sets a u64 from a number. */
export function setU64(view: DataView, at: number, value: number, littleEndian: boolean): void {
  view.setBigUint64(at, BigInt(value), littleEndian);
}

/** Rounds up to a multiple. */
export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Whether the bytes at `at` spell `text`. */
export function hasBytes(head: Uint8Array, at: number, bytes: readonly number[]): boolean {
  return head.length >= at + bytes.length && bytes.every((b, i) => head[at + i] === b);
}

/** Merges adjacent ranges from an increasing sequence. */
export class RangeMerger {
  #offset = -1;
  #length = 0;
  /** Adds a range; returns the previous merged range when this one does not continue it. */
  add(offset: number, length: number): { offset: number; length: number } | undefined {
    if (this.#offset >= 0 && this.#offset + this.#length === offset) {
      this.#length += length;
      return undefined;
    }
    const previous = this.flush();
    this.#offset = offset;
    this.#length = length;
    return previous;
  }
  /** The pending range, if any. */
  flush(): { offset: number; length: number } | undefined {
    if (this.#offset < 0) return undefined;
    const range = { offset: this.#offset, length: this.#length };
    this.#offset = -1;
    this.#length = 0;
    return range;
  }
}

/**
 * A `read(offset, length)` over fixed-size units: `unit(i)` returns the unit's bytes or null for zeros.
 *
 * @returns the bytes, fewer only at the end of the disk
 */
export async function readUnits(
  options: { size: number; unitSize: number; unit: (index: number) => Uint8Array | null | Promise<Uint8Array | null> },
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const want = Math.max(0, Math.min(length, options.size - Math.max(0, offset)));
  const out = new Uint8Array(want);
  for (let done = 0; done < want;) {
    const position = offset + done;
    const index = Math.floor(position / options.unitSize);
    const within = position - index * options.unitSize;
    const take = Math.min(options.unitSize - within, want - done);
    const bytes = await options.unit(index);
    if (bytes) out.set(bytes.subarray(within, within + take), done);
    done += take;
  }
  return out;
}
