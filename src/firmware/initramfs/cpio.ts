/**
 * cpio "newc" archives: the container format of a Linux initramfs (kernel documentation
 * Documentation/driver-api/early-userspace/buffer-format.rst; the header fields are those
 * of the SVR4 "new ASCII" format, man 5 cpio).
 *
 * Each member is a 110-byte ASCII header — the magic "070701" followed by thirteen fields
 * of eight hexadecimal digits (ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
 * devminor, rdevmajor, rdevminor, namesize, check) — then the NUL-terminated name, zero
 * padding to a 4-byte boundary, the data and zero padding to a 4-byte boundary again. A
 * member named "TRAILER!!!" ends the archive.
 *
 * Writer model choices (so that the same entries always give the same bytes):
 * - Owner and group are 0 (root), mtime is one fixed value for every member (default 0),
 *   inode numbers count up from 1 in list order, nlink is 2 for directories and 1 for
 *   everything else (no hard links), devmajor/devminor and the checksum are 0.
 * - Paths are absolute and normalised ("/bin/busybox": no "//", ".", "..", trailing "/");
 *   names are stored without the leading "/", as the kernel unpacks relative to "/".
 * - Every parent directory must appear as a directory entry before its children (the
 *   kernel creates members in order); the writer rejects a missing parent rather than
 *   inventing one. `withParentDirectories` adds them explicitly when that is wanted.
 * - Names are limited to PATH_MAX (4096 bytes with the NUL) and each component to
 *   NAME_MAX (255 bytes); device numbers to Linux's 12-bit major / 20-bit minor.
 * The reader accepts what the writer produces (and other newc archives with the same
 * member types), and rejects anything truncated or malformed with the byte offset.
 */

/** Kinds of member the writer and reader support. */
export type CpioEntryKind = 'file' | 'dir' | 'symlink' | 'char';

/** A regular file with its contents. */
export interface CpioFileEntry {
  readonly kind: 'file';
  /** Absolute, normalised path, e.g. "/bin/busybox". */
  readonly path: string;
  /** Permission bits (0..0o7777); 0o644 when omitted. */
  readonly perm?: number;
  readonly data: Uint8Array;
}

/** A directory. */
export interface CpioDirEntry {
  readonly kind: 'dir';
  readonly path: string;
  /** Permission bits; 0o755 when omitted. */
  readonly perm?: number;
}

/** A symbolic link; the archive stores the target as the member's data (no NUL). */
export interface CpioSymlinkEntry {
  readonly kind: 'symlink';
  readonly path: string;
  readonly target: string;
}

/** A character device node with its device number (rdevmajor/rdevminor). */
export interface CpioCharDeviceEntry {
  readonly kind: 'char';
  readonly path: string;
  /** Permission bits; 0o600 when omitted. */
  readonly perm?: number;
  readonly major: number;
  readonly minor: number;
}

/** One member of an archive, as given to the writer. */
export type CpioEntry = CpioFileEntry | CpioDirEntry | CpioSymlinkEntry | CpioCharDeviceEntry;

/** Options of `writeCpio`. */
export interface CpioWriteOptions {
  /** Modification time written for every member, seconds since 1970 (default 0). */
  readonly mtime?: number;
}

/** A member read back from an archive: the entry plus the header fields it carried. */
export interface CpioRecord {
  /** The entry, with `perm` always present (files, dirs and devices). */
  readonly entry: CpioEntry;
  /** Byte offset of the member's header in the archive. */
  readonly offset: number;
  /** The full 32-bit mode field (type and permission bits). */
  readonly mode: number;
  readonly ino: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
}

/** A bad entry given to the writer, or a malformed archive given to the reader. */
export class CpioError extends Error {
  /** The entry's path (writer errors), when known. */
  readonly path: string | undefined;
  /** The byte offset in the archive (reader errors), when known. */
  readonly offset: number | undefined;

  constructor(message: string, where: { path?: string; offset?: number } = {}) {
    super(message);
    this.name = 'CpioError';
    this.path = where.path;
    this.offset = where.offset;
  }
}

/** The magic of the "newc" header (no checksum). */
export const NEWC_MAGIC = '070701';
/** The magic of the "crc" variant, which the reader also accepts (the checksum is not verified). */
export const CRC_MAGIC = '070702';
/** Size of the fixed header: 6 magic characters and 13 fields of 8 hex digits. */
export const NEWC_HEADER_SIZE = 110;
/** The name of the member that ends an archive. */
export const TRAILER_NAME = 'TRAILER!!!';
/** Longest stored name in bytes, NUL excluded (Linux PATH_MAX is 4096 with the NUL). */
export const MAX_NAME_BYTES = 4095;
/** Longest path component in bytes (Linux NAME_MAX). */
export const MAX_COMPONENT_BYTES = 255;
/** Largest device major number (Linux dev_t keeps 12 bits). */
export const MAX_DEVICE_MAJOR = 0xfff;
/** Largest device minor number (Linux dev_t keeps 20 bits). */
export const MAX_DEVICE_MINOR = 0xfffff;

/** File type bits of the mode field (st_mode S_IF*). */
const enum ModeType {
  Mask = 0o170000,
  Socket = 0o140000,
  Symlink = 0o120000,
  Regular = 0o100000,
  Block = 0o060000,
  Directory = 0o040000,
  Char = 0o020000,
  Fifo = 0o010000,
}

/** Mask of the permission bits (rwx for user/group/other plus setuid, setgid, sticky). */
const PERM_MASK = 0o7777;

/** Names of the thirteen header fields after the magic, in order. */
const HEADER_FIELDS = [
  'c_ino', 'c_mode', 'c_uid', 'c_gid', 'c_nlink', 'c_mtime', 'c_filesize',
  'c_devmajor', 'c_devminor', 'c_rdevmajor', 'c_rdevminor', 'c_namesize', 'c_check',
] as const;

/** Header field values by name. */
type HeaderFields = Record<(typeof HEADER_FIELDS)[number], number>;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Number of zero bytes that take `length` up to a multiple of 4. */
export function padTo4(length: number): number {
  return (4 - (length & 3)) & 3;
}

// ---------------------------------------------------------------------------------------
// Path checks (shared by writer and reader)

/**
 * Why `path` is not an absolute normalised path we can store, or null when it is fine.
 * The root "/" itself is not a member (the kernel's rootfs already exists).
 */
export function pathProblem(path: string): string | null {
  if (typeof path !== 'string') return 'the path is not a string';
  if (path.length === 0) return 'the path is empty';
  if (!path.startsWith('/')) return 'the path must be absolute (start with "/")';
  if (path === '/') return 'the root directory "/" cannot be an archive member';
  if (path.includes('\0')) return 'the path contains a NUL character';
  if (path.endsWith('/')) return 'the path ends with "/"';
  const components = path.slice(1).split('/');
  for (const component of components) {
    if (component === '') return 'the path contains an empty component ("//")';
    if (component === '.' || component === '..') return `the path contains a "${component}" component`;
    if (utf8Encoder.encode(component).length > MAX_COMPONENT_BYTES) {
      return `the component "${component.slice(0, 32)}..." is longer than ${MAX_COMPONENT_BYTES} bytes`;
    }
  }
  const nameBytes = utf8Encoder.encode(path.slice(1)).length;
  if (nameBytes > MAX_NAME_BYTES) return `the name is ${nameBytes} bytes, more than ${MAX_NAME_BYTES}`;
  if (path.slice(1) === TRAILER_NAME) return `the name "${TRAILER_NAME}" is reserved for the end marker`;
  return null;
}

/** The parent directory of an absolute normalised path ("/" for top-level names). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

// ---------------------------------------------------------------------------------------
// Writer

/** Throw a CpioError about entry number `index` at `path`. */
function entryError(index: number, path: unknown, problem: string): never {
  const shown = typeof path === 'string' ? `'${path}'` : String(path);
  throw new CpioError(`cpio entry ${index} ${shown}: ${problem}`, typeof path === 'string' ? { path } : {});
}

/** Check a permission value; returns the value to write. */
function checkedPerm(index: number, entry: CpioEntry, perm: number | undefined, fallback: number): number {
  const value = perm ?? fallback;
  if (!Number.isInteger(value) || value < 0 || value > PERM_MASK) {
    entryError(index, entry.path, `perm ${String(value)} is not an integer in 0..0o7777`);
  }
  return value;
}

/** Check a device number part. */
function checkedDevicePart(index: number, path: string, name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    entryError(index, path, `device ${name} ${String(value)} is not an integer in 0..${max}`);
  }
  return value;
}

/** What one member contributes to the archive: mode, rdev and data bytes. */
interface MemberPlan {
  readonly name: Uint8Array;
  readonly mode: number;
  readonly nlink: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  readonly data: Uint8Array;
}

/** Validate one entry's own fields (not its relation to others) and plan its member. */
function planMember(index: number, entry: CpioEntry): MemberPlan {
  if (entry === null || typeof entry !== 'object') entryError(index, entry, 'is not an object');
  const problem = pathProblem(entry.path);
  if (problem !== null) entryError(index, entry.path, problem);
  const name = utf8Encoder.encode(entry.path.slice(1));
  switch (entry.kind) {
    case 'file': {
      if (!(entry.data instanceof Uint8Array)) entryError(index, entry.path, 'file data is not a Uint8Array');
      if (entry.data.length > 0xffffffff) entryError(index, entry.path, 'file is larger than 4 GiB - 1');
      const perm = checkedPerm(index, entry, entry.perm, 0o644);
      return { name, mode: ModeType.Regular | perm, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: entry.data };
    }
    case 'dir': {
      const perm = checkedPerm(index, entry, entry.perm, 0o755);
      return { name, mode: ModeType.Directory | perm, nlink: 2, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0) };
    }
    case 'symlink': {
      if (typeof entry.target !== 'string' || entry.target.length === 0) {
        entryError(index, entry.path, 'symlink target is empty');
      }
      if (entry.target.includes('\0')) entryError(index, entry.path, 'symlink target contains a NUL character');
      const target = utf8Encoder.encode(entry.target);
      if (target.length > MAX_NAME_BYTES) {
        entryError(index, entry.path, `symlink target is ${target.length} bytes, more than ${MAX_NAME_BYTES}`);
      }
      return { name, mode: ModeType.Symlink | 0o777, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: target };
    }
    case 'char': {
      const perm = checkedPerm(index, entry, entry.perm, 0o600);
      const major = checkedDevicePart(index, entry.path, 'major', entry.major, MAX_DEVICE_MAJOR);
      const minor = checkedDevicePart(index, entry.path, 'minor', entry.minor, MAX_DEVICE_MINOR);
      return { name, mode: ModeType.Char | perm, nlink: 1, rdevMajor: major, rdevMinor: minor, data: new Uint8Array(0) };
    }
    default:
      return entryError(index, (entry as { path?: unknown }).path,
        `unknown kind ${JSON.stringify((entry as { kind?: unknown }).kind)} (expected file, dir, symlink or char)`);
  }
}

/**
 * Check the entries as a set: no path twice, and every parent an earlier directory.
 * Throws a CpioError naming the offending entry.
 */
function checkTree(entries: readonly CpioEntry[]): void {
  const seen = new Map<string, { index: number; kind: CpioEntryKind }>();
  entries.forEach((entry, index) => {
    const earlier = seen.get(entry.path);
    if (earlier) entryError(index, entry.path, `duplicate path (also entry ${earlier.index})`);
    const parent = parentOf(entry.path);
    if (parent !== '/') {
      const parentEntry = seen.get(parent);
      if (!parentEntry) entryError(index, entry.path, `parent directory '${parent}' is not an earlier entry`);
      if (parentEntry.kind !== 'dir') {
        entryError(index, entry.path, `parent '${parent}' (entry ${parentEntry.index}) is a ${parentEntry.kind}, not a dir`);
      }
    }
    seen.set(entry.path, { index, kind: entry.kind });
  });
}

/** Write `text` (ASCII) into `out` at `at`. */
function putAscii(out: Uint8Array, at: number, text: string): void {
  for (let k = 0; k < text.length; k++) out[at + k] = text.charCodeAt(k);
}

/** Eight uppercase hex digits of a 32-bit unsigned value. */
function hex8(value: number): string {
  return (value >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Size in bytes of a member with the given name (NUL excluded) and data lengths. */
function memberSize(nameBytes: number, dataBytes: number): number {
  const headerAndName = NEWC_HEADER_SIZE + nameBytes + 1;
  return headerAndName + padTo4(headerAndName) + dataBytes + padTo4(dataBytes);
}

/** Write one member at `at`; returns the offset after it. */
function putMember(out: Uint8Array, at: number, plan: MemberPlan, ino: number, mtime: number): number {
  const fields: HeaderFields = {
    c_ino: ino, c_mode: plan.mode, c_uid: 0, c_gid: 0, c_nlink: plan.nlink, c_mtime: mtime,
    c_filesize: plan.data.length, c_devmajor: 0, c_devminor: 0,
    c_rdevmajor: plan.rdevMajor, c_rdevminor: plan.rdevMinor,
    c_namesize: plan.name.length + 1, c_check: 0,
  };
  putAscii(out, at, NEWC_MAGIC);
  HEADER_FIELDS.forEach((field, k) => putAscii(out, at + 6 + 8 * k, hex8(fields[field])));
  let cursor = at + NEWC_HEADER_SIZE;
  out.set(plan.name, cursor);
  cursor += plan.name.length + 1; // the NUL is already zero
  cursor += padTo4(cursor - at);
  out.set(plan.data, cursor);
  cursor += plan.data.length;
  return cursor + padTo4(plan.data.length);
}

/**
 * Encode `entries` as a newc archive ending with the TRAILER!!! member. Deterministic:
 * the same entries and options always give identical bytes. Throws CpioError naming the
 * entry (index and path) for a bad path, duplicate, missing/non-directory parent or
 * out-of-range field.
 */
export function writeCpio(entries: readonly CpioEntry[], options: CpioWriteOptions = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0xffffffff) {
    throw new CpioError(`cpio mtime ${String(mtime)} is not an integer in 0..0xFFFFFFFF`);
  }
  const plans = entries.map((entry, index) => planMember(index, entry));
  checkTree(entries);
  const trailer: MemberPlan = {
    name: utf8Encoder.encode(TRAILER_NAME), mode: 0, nlink: 1, rdevMajor: 0, rdevMinor: 0, data: new Uint8Array(0),
  };
  const total = [...plans, trailer].reduce((sum, plan) => sum + memberSize(plan.name.length, plan.data.length), 0);
  const out = new Uint8Array(total);
  let cursor = 0;
  plans.forEach((plan, index) => {
    cursor = putMember(out, cursor, plan, index + 1, mtime);
  });
  cursor = putMember(out, cursor, trailer, 0, 0);
  if (cursor !== total) throw new Error(`cpio writer size mismatch: wrote ${cursor} of ${total} bytes`);
  return out;
}

/**
 * Return `entries` with a directory entry (perm 0o755) inserted before the first entry
 * under each directory that is not listed earlier. A directory the caller lists after
 * its children takes the place of the inserted one (its perm wins). The order is
 * otherwise kept, so the result is as deterministic as the input; entries with bad
 * paths are passed through for `writeCpio` to reject.
 */
export function withParentDirectories(entries: readonly CpioEntry[]): CpioEntry[] {
  const result: CpioEntry[] = [];
  const inserted = new Map<string, number>(); // path -> index in result, for dirs we made up
  const listed = new Set<string>();
  const ensure = (dir: string): void => {
    if (dir === '/' || listed.has(dir)) return;
    ensure(parentOf(dir));
    listed.add(dir);
    inserted.set(dir, result.length);
    result.push({ kind: 'dir', path: dir, perm: 0o755 });
  };
  for (const entry of entries) {
    const usable = typeof entry?.path === 'string' && pathProblem(entry.path) === null;
    if (usable) ensure(parentOf(entry.path));
    const madeUp = usable && entry.kind === 'dir' ? inserted.get(entry.path) : undefined;
    if (madeUp !== undefined) {
      result[madeUp] = entry;
      inserted.delete(entry.path);
      continue;
    }
    if (usable) listed.add(entry.path);
    result.push(entry);
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Reader

/** Throw a CpioError about the archive at `offset`. */
function archiveError(offset: number, problem: string): never {
  throw new CpioError(`cpio archive, offset ${offset}: ${problem}`, { offset });
}

/** Parse one 8-digit hex field; rejects anything but hex digits. */
function readHexField(bytes: Uint8Array, at: number, field: string): number {
  let value = 0;
  for (let k = 0; k < 8; k++) {
    const c = bytes[at + k]!;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30
      : c >= 0x41 && c <= 0x46 ? c - 0x37
        : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (digit < 0) archiveError(at, `header field ${field} is not 8 hex digits`);
    value = value * 16 + digit;
  }
  return value;
}

/** Check that bytes [from, to) are zero (alignment padding). */
function checkZeroPadding(bytes: Uint8Array, from: number, to: number, what: string): void {
  for (let at = from; at < to; at++) {
    if (bytes[at] !== 0) archiveError(at, `non-zero byte in the padding after the ${what}`);
  }
}

/** Read the 110-byte header at `at`. */
function readHeader(bytes: Uint8Array, at: number): HeaderFields {
  if (at + NEWC_HEADER_SIZE > bytes.length) {
    archiveError(at, `truncated header (${bytes.length - at} of ${NEWC_HEADER_SIZE} bytes)`);
  }
  const magic = String.fromCharCode(...bytes.subarray(at, at + 6));
  if (magic !== NEWC_MAGIC && magic !== CRC_MAGIC) {
    archiveError(at, `bad magic ${JSON.stringify(magic)} (expected ${NEWC_MAGIC})`);
  }
  const fields = {} as HeaderFields;
  HEADER_FIELDS.forEach((field, k) => {
    fields[field] = readHexField(bytes, at + 6 + 8 * k, field);
  });
  return fields;
}

/** Decode the member name at `at` of `size` bytes (NUL included). */
function readName(bytes: Uint8Array, at: number, size: number, headerAt: number): string {
  if (size < 2) archiveError(headerAt, `c_namesize ${size} is too small for a name and its NUL`);
  if (size - 1 > MAX_NAME_BYTES) archiveError(headerAt, `c_namesize ${size} exceeds ${MAX_NAME_BYTES + 1}`);
  if (at + size > bytes.length) archiveError(at, `truncated name (${bytes.length - at} of ${size} bytes)`);
  if (bytes[at + size - 1] !== 0) archiveError(at, 'the name is not NUL-terminated');
  const raw = bytes.subarray(at, at + size - 1);
  if (raw.includes(0)) archiveError(at, 'the name contains a NUL before its end');
  try {
    return utf8Decoder.decode(raw);
  } catch {
    return archiveError(at, 'the name is not valid UTF-8');
  }
}

/** Turn a header and its data into an entry, or throw for an unsupported type. */
function entryOf(path: string, fields: HeaderFields, data: Uint8Array, at: number): CpioEntry {
  const perm = fields.c_mode & PERM_MASK;
  switch (fields.c_mode & ModeType.Mask) {
    case ModeType.Regular:
      return { kind: 'file', path, perm, data };
    case ModeType.Directory:
      if (data.length !== 0) archiveError(at, `directory '${path}' has ${data.length} data bytes`);
      return { kind: 'dir', path, perm };
    case ModeType.Symlink:
      if (data.length === 0) archiveError(at, `symlink '${path}' has an empty target`);
      try {
        return { kind: 'symlink', path, target: utf8Decoder.decode(data) };
      } catch {
        return archiveError(at, `symlink '${path}' target is not valid UTF-8`);
      }
    case ModeType.Char:
      if (data.length !== 0) archiveError(at, `device '${path}' has ${data.length} data bytes`);
      return { kind: 'char', path, perm, major: fields.c_rdevmajor, minor: fields.c_rdevminor };
    default:
      return archiveError(at, `'${path}' has mode 0o${fields.c_mode.toString(8)}, an unsupported file type`);
  }
}

/**
 * Parse a newc archive back into its members, in order, up to the TRAILER!!! member;
 * only zero bytes may follow the trailer. Names "x/y" become paths "/x/y" (a leading
 * "./" or "/" is accepted); a "." member (the root) is skipped. Throws CpioError naming
 * the offset for truncation, bad magic or hex, padding that is not zero, a name that is
 * not normalised, or an archive without a trailer.
 */
export function readCpio(bytes: Uint8Array): CpioRecord[] {
  const records: CpioRecord[] = [];
  let at = 0;
  for (;;) {
    if (at >= bytes.length) archiveError(at, `the archive ends without a ${TRAILER_NAME} member`);
    const fields = readHeader(bytes, at);
    const nameAt = at + NEWC_HEADER_SIZE;
    const name = readName(bytes, nameAt, fields.c_namesize, at);
    const nameEnd = nameAt + fields.c_namesize;
    const dataAt = nameEnd + padTo4(nameEnd - at);
    if (dataAt > bytes.length) archiveError(nameEnd, 'truncated padding after the name');
    checkZeroPadding(bytes, nameEnd, dataAt, 'name');
    const dataEnd = dataAt + fields.c_filesize;
    if (dataEnd > bytes.length) {
      archiveError(dataAt, `truncated data of '${name}' (${bytes.length - dataAt} of ${fields.c_filesize} bytes)`);
    }
    const next = dataEnd + padTo4(fields.c_filesize);
    if (next > bytes.length) archiveError(dataEnd, `truncated padding after the data of '${name}'`);
    checkZeroPadding(bytes, dataEnd, next, `data of '${name}'`);
    if (name === TRAILER_NAME) {
      checkZeroPadding(bytes, next, bytes.length, 'trailer');
      return records;
    }
    if (name !== '.') records.push(recordOf(name, fields, bytes.slice(dataAt, dataEnd), at));
    at = next;
  }
}

/** Build the record of a (non-trailer, non-root) member. */
function recordOf(name: string, fields: HeaderFields, data: Uint8Array, at: number): CpioRecord {
  const path = '/' + name.replace(/^\.?\//, '');
  const problem = pathProblem(path);
  if (problem !== null) archiveError(at, `member name ${JSON.stringify(name)}: ${problem}`);
  return {
    entry: entryOf(path, fields, data, at),
    offset: at,
    mode: fields.c_mode,
    ino: fields.c_ino,
    uid: fields.c_uid,
    gid: fields.c_gid,
    nlink: fields.c_nlink,
    mtime: fields.c_mtime,
  };
}
