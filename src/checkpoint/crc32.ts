/**
 * CRC-32 checksums for snapshot files: CRC-32/ISO-HDLC (the zlib/PNG polynomial, reflected
 * 0xEDB88320) for every section and frame record, and CRC-32C (Castagnoli, reflected
 * 0x82F63B78) as the second half of a snapshot's 64-bit identity.
 *
 * A CRC-32 detects every error burst of up to 32 bits, so any single changed byte in a checked
 * region is always caught (not merely with high probability, as with a hash). In Node, CRC-32
 * uses zlib's native `crc32` when the runtime has it (Node >= 20.15); elsewhere, and always for
 * CRC-32C, a table-driven TypeScript loop processing four bytes per step.
 */

/** Builds the four 256-entry tables of a reflected CRC-32 with polynomial `poly` (slicing by 4). */
function buildTables(poly: number): Uint32Array {
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let s = 1; s < 4; s++) {
      const prev = t[(s - 1) * 256 + n];
      t[s * 256 + n] = (t[prev & 0xff] ^ (prev >>> 8)) >>> 0;
    }
  }
  return t;
}

const IEEE_TABLES = buildTables(0xedb88320);
const CASTAGNOLI_TABLES = buildTables(0x82f63b78);

/** Continues a reflected CRC-32 over `bytes` with the tables `t`, from the previous result `crc`. */
function crcWithTables(t: Uint32Array, bytes: Uint8Array, crc: number): number {
  let c = ~crc >>> 0;
  let i = 0;
  const end4 = bytes.length & ~3;
  for (; i < end4; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t[768 + (c & 0xff)] ^ t[512 + ((c >>> 8) & 0xff)] ^ t[256 + ((c >>> 16) & 0xff)] ^ t[c >>> 24];
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 (zlib polynomial) in TypeScript; `previous` continues an earlier result. */
export function crc32Ts(bytes: Uint8Array, previous = 0): number {
  return crcWithTables(IEEE_TABLES, bytes, previous);
}

type NativeCrc = (data: Uint8Array, value?: number) => number;

/** zlib's native crc32 when this runtime is Node with it, else null. */
function findNativeCrc32(): NativeCrc | null {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = nodeProcess?.getBuiltinModule?.('node:zlib') as { crc32?: NativeCrc } | undefined;
  return typeof zlib?.crc32 === 'function' ? zlib.crc32 : null;
}

const nativeCrc32 = findNativeCrc32();

/** CRC-32 (zlib polynomial) of `bytes`; `previous` continues an earlier result over more bytes. */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return nativeCrc32 !== null ? nativeCrc32(bytes, previous) >>> 0 : crc32Ts(bytes, previous);
}

/** CRC-32C (Castagnoli) of `bytes`; `previous` continues an earlier result over more bytes. */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  return crcWithTables(CASTAGNOLI_TABLES, bytes, previous);
}
