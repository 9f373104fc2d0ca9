/**
 * A small encoder for ACPI Machine Language (ACPI spec 6.4, chapter 20 "ACPI Machine
 * Language (AML) Specification": §20.2.2 name objects, §20.2.3 data objects, §20.2.4
 * package length, §20.2.5 term objects) and for the resource descriptors a `_CRS`
 * ResourceTemplate holds (§6.4.2 small resource data types: IRQ, I/O port, End Tag).
 *
 * Every function returns the encoded bytes of one AML construct; larger constructs take
 * their contents as already-encoded byte arrays, so a definition block is written the way
 * ASL nests it:
 *
 *   scope('\\_SB', device('KBD_', name('_HID', eisaIdInteger('PNP0303')), ...))
 *
 * Only what our firmware needs is here: NameOp, ScopeOp, DeviceOp, MethodOp, ReturnOp,
 * PackageOp, BufferOp, integer and string constants, EISA IDs, and the IO / IRQ / End Tag
 * resource descriptors. Bad input (a malformed name, an out-of-range number) throws an
 * `AmlEncodeError` naming the value; nothing is silently truncated.
 */

/** Input the encoder cannot represent; the message names the offending value. */
export class AmlEncodeError extends Error {
  constructor(message: string) {
    super(`AML: ${message}`);
    this.name = 'AmlEncodeError';
  }
}

// Opcodes (§20.3 "AML Byte Stream Byte Values").
/** ZeroOp: the integer 0. */
export const AML_ZERO_OP = 0x00;
/** OneOp: the integer 1. */
export const AML_ONE_OP = 0x01;
/** NameOp. */
export const AML_NAME_OP = 0x08;
/** BytePrefix: an 8-bit integer follows. */
export const AML_BYTE_PREFIX = 0x0a;
/** WordPrefix: a 16-bit little-endian integer follows. */
export const AML_WORD_PREFIX = 0x0b;
/** DWordPrefix: a 32-bit little-endian integer follows. */
export const AML_DWORD_PREFIX = 0x0c;
/** StringPrefix: NUL-terminated ASCII follows. */
export const AML_STRING_PREFIX = 0x0d;
/** QWordPrefix: a 64-bit little-endian integer follows. */
export const AML_QWORD_PREFIX = 0x0e;
/** ScopeOp. */
export const AML_SCOPE_OP = 0x10;
/** BufferOp. */
export const AML_BUFFER_OP = 0x11;
/** PackageOp. */
export const AML_PACKAGE_OP = 0x12;
/** MethodOp. */
export const AML_METHOD_OP = 0x14;
/** DualNamePrefix: two NameSegs follow. */
export const AML_DUAL_NAME_PREFIX = 0x2e;
/** MultiNamePrefix: a segment count and that many NameSegs follow. */
export const AML_MULTI_NAME_PREFIX = 0x2f;
/** ExtOpPrefix: the next byte is an extended opcode. */
export const AML_EXT_OP_PREFIX = 0x5b;
/** Extended opcode DeviceOp (after ExtOpPrefix). */
export const AML_EXT_DEVICE_OP = 0x82;
/** RootChar '\'. */
export const AML_ROOT_CHAR = 0x5c;
/** ParentPrefixChar '^'. */
export const AML_PARENT_PREFIX_CHAR = 0x5e;
/** ReturnOp. */
export const AML_RETURN_OP = 0xa4;
/** OnesOp: all ones. */
export const AML_ONES_OP = 0xff;

// Small resource descriptor tags (§6.4.2): byte 0 = (item name << 3) | length.
/** IRQ descriptor without the information byte (edge, active high, exclusive). */
export const RES_IRQ_NO_FLAGS_TAG = 0x22;
/** IRQ descriptor with the information byte. */
export const RES_IRQ_TAG = 0x23;
/** I/O port descriptor. */
export const RES_IO_TAG = 0x47;
/** End tag. */
export const RES_END_TAG = 0x79;
/** I/O descriptor information bit: the device decodes 16 address bits. */
export const RES_IO_DECODE16 = 0x01;
/** IRQ information bit 0: edge triggered (0 = level). */
export const RES_IRQ_EDGE = 0x01;
/** IRQ information bit 3: active low (0 = active high). */
export const RES_IRQ_ACTIVE_LOW = 0x08;
/** IRQ information bit 4: shared. */
export const RES_IRQ_SHARED = 0x10;
/** IRQ information bit 5: wake capable. */
export const RES_IRQ_WAKE = 0x20;

const NAME_SEG_BYTES = 4;
const PKG_LENGTH_MAX = 0x0fff_ffff;
const MAX_QWORD = 2n ** 64n - 1n;

/** Concatenate encoded pieces. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * PkgLength (§20.2.4) for a construct whose contents after the PkgLength are
 * `contentLength` bytes. The encoded length counts the PkgLength bytes themselves: one
 * byte (bits 5:0) up to 63, otherwise 2-4 bytes with the byte count - 1 in bits 7:6 of
 * the lead byte, the low nibble in its bits 3:0 and the rest in the following bytes.
 */
export function pkgLength(contentLength: number): Uint8Array {
  if (!Number.isInteger(contentLength) || contentLength < 0) {
    throw new AmlEncodeError(`package content length ${contentLength} is not a non-negative integer`);
  }
  if (contentLength + 1 <= 0x3f) return Uint8Array.of(contentLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = new Uint8Array(1 + extra);
      out[0] = (extra << 6) | (total & 0x0f);
      for (let k = 1; k <= extra; k++) out[k] = Math.floor(total / 2 ** (4 + 8 * (k - 1))) & 0xff;
      return out;
    }
  }
  throw new AmlEncodeError(`package content length ${contentLength} exceeds the PkgLength maximum ${PKG_LENGTH_MAX}`);
}

/** `contents` preceded by their PkgLength. */
function withPkgLength(contents: Uint8Array): Uint8Array {
  return concatBytes(pkgLength(contents.length), contents);
}

/** True for a character allowed as the first character of a NameSeg (A-Z, '_'). */
function isLeadNameChar(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || c === '_';
}

/** True for a character allowed after the first (A-Z, 0-9, '_'). */
function isNameChar(c: string): boolean {
  return isLeadNameChar(c) || (c >= '0' && c <= '9');
}

/**
 * One NameSeg (§20.2.2): 1-4 characters, the first A-Z or '_', the rest A-Z, 0-9 or '_';
 * shorter names are padded with '_' as ASL does ("CPU" → "CPU_").
 */
export function nameSeg(segment: string): Uint8Array {
  if (segment.length < 1 || segment.length > NAME_SEG_BYTES) {
    throw new AmlEncodeError(`name segment '${segment}' must have 1 to 4 characters`);
  }
  if (!isLeadNameChar(segment[0]!) || ![...segment].every(isNameChar)) {
    throw new AmlEncodeError(`name segment '${segment}' must be [A-Z_][A-Z0-9_]*`);
  }
  const padded = segment.padEnd(NAME_SEG_BYTES, '_');
  return Uint8Array.from(padded, (c) => c.charCodeAt(0));
}

/**
 * A NameString (§20.2.2): optional root '\' or parent '^' prefixes, then dot-separated
 * segments: one plain, two with DualNamePrefix, more with MultiNamePrefix. "\" alone is
 * the root (RootChar + NullName).
 */
export function nameString(path: string): Uint8Array {
  let rest = path;
  const prefix: number[] = [];
  if (rest.startsWith('\\')) {
    prefix.push(AML_ROOT_CHAR);
    rest = rest.slice(1);
  } else {
    while (rest.startsWith('^')) {
      prefix.push(AML_PARENT_PREFIX_CHAR);
      rest = rest.slice(1);
    }
  }
  if (rest === '') {
    if (prefix.length === 0) throw new AmlEncodeError('empty name path');
    return Uint8Array.from([...prefix, 0x00]);
  }
  const segments = rest.split('.').map(nameSeg);
  let lead: number[];
  if (segments.length === 1) lead = [];
  else if (segments.length === 2) lead = [AML_DUAL_NAME_PREFIX];
  else if (segments.length <= 255) lead = [AML_MULTI_NAME_PREFIX, segments.length];
  else throw new AmlEncodeError(`name path '${path}' has more than 255 segments`);
  return concatBytes(Uint8Array.from([...prefix, ...lead]), ...segments);
}

/** `value` as `bytes` little-endian bytes (value < 2^(8·bytes)). */
function littleEndian(value: bigint, bytes: number): number[] {
  const out: number[] = [];
  let v = value;
  for (let k = 0; k < bytes; k++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

/**
 * The shortest integer encoding (§20.2.3): ZeroOp, OneOp, then ByteConst, WordConst,
 * DWordConst or QWordConst. Accepts 0 ≤ value < 2^64 (a bigint above 2^53). OnesOp is
 * never chosen implicitly (its width depends on the table revision); use `onesOp()`.
 */
export function integer(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0)) {
    throw new AmlEncodeError(`integer ${value} is not a non-negative safe integer`);
  }
  const v = BigInt(value);
  if (v < 0n || v > MAX_QWORD) throw new AmlEncodeError(`integer ${value} is outside 0..2^64-1`);
  if (v === 0n) return Uint8Array.of(AML_ZERO_OP);
  if (v === 1n) return Uint8Array.of(AML_ONE_OP);
  if (v <= 0xffn) return Uint8Array.of(AML_BYTE_PREFIX, Number(v));
  if (v <= 0xffffn) return Uint8Array.from([AML_WORD_PREFIX, ...littleEndian(v, 2)]);
  if (v <= 0xffff_ffffn) return Uint8Array.from([AML_DWORD_PREFIX, ...littleEndian(v, 4)]);
  return Uint8Array.from([AML_QWORD_PREFIX, ...littleEndian(v, 8)]);
}

/** OnesOp: all bits set (64 bits in a revision-2 definition block). */
export function onesOp(): Uint8Array {
  return Uint8Array.of(AML_ONES_OP);
}

/** A String constant (§20.2.3): StringPrefix, ASCII 0x01-0x7F, NUL. */
export function string(text: string): Uint8Array {
  const bytes: number[] = [AML_STRING_PREFIX];
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (c.length !== 1 || code < 0x01 || code > 0x7f) {
      throw new AmlEncodeError(`string '${text}' has a character outside ASCII 0x01-0x7F`);
    }
    bytes.push(code);
  }
  bytes.push(0);
  return Uint8Array.from(bytes);
}

/**
 * The 32-bit compressed EISA ID of a PNP-style id "LLLhhhh" (§6.1.5 _HID, the ASL
 * EISAID macro): three upper-case letters packed 5 bits each (letter - 0x40) into a
 * big-endian 16-bit word, then the four hex digits as two bytes; the result is the
 * little-endian DWORD of those four bytes ("PNP0303" → 0x0303D041).
 */
export function eisaId(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) {
    throw new AmlEncodeError(`EISA ID '${id}' must be three letters A-Z and four upper-case hex digits`);
  }
  const letters = ((id.charCodeAt(0) - 0x40) << 10) | ((id.charCodeAt(1) - 0x40) << 5) | (id.charCodeAt(2) - 0x40);
  const product = parseInt(id.slice(3), 16);
  const b0 = letters >> 8;
  const b1 = letters & 0xff;
  const b2 = product >> 8;
  const b3 = product & 0xff;
  return (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0;
}

/** DefName (§20.2.5.1): NameOp NameString DataRefObject. */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(AML_NAME_OP), nameString(path), value);
}

/** DefScope (§20.2.5.1): ScopeOp PkgLength NameString TermList. */
export function scope(path: string, ...terms: readonly Uint8Array[]): Uint8Array {
  return concatBytes(Uint8Array.of(AML_SCOPE_OP), withPkgLength(concatBytes(nameString(path), ...terms)));
}

/** DefDevice (§20.2.5.2): ExtOpPrefix DeviceOp PkgLength NameString TermList. */
export function device(path: string, ...terms: readonly Uint8Array[]): Uint8Array {
  return concatBytes(
    Uint8Array.of(AML_EXT_OP_PREFIX, AML_EXT_DEVICE_OP),
    withPkgLength(concatBytes(nameString(path), ...terms)),
  );
}

/** Options of a control method. */
export interface MethodOptions {
  /** Number of arguments, 0-7. */
  readonly argCount: number;
  /** Serialized (bit 3 of MethodFlags). Default false. */
  readonly serialized?: boolean;
  /** SyncLevel 0-15 (bits 7:4). Default 0. */
  readonly syncLevel?: number;
}

/** DefMethod (§20.2.5.2): MethodOp PkgLength NameString MethodFlags TermList. */
export function method(path: string, options: MethodOptions, ...terms: readonly Uint8Array[]): Uint8Array {
  const { argCount } = options;
  const syncLevel = options.syncLevel ?? 0;
  if (!Number.isInteger(argCount) || argCount < 0 || argCount > 7) {
    throw new AmlEncodeError(`method ${path}: argument count ${argCount} is outside 0..7`);
  }
  if (!Number.isInteger(syncLevel) || syncLevel < 0 || syncLevel > 15) {
    throw new AmlEncodeError(`method ${path}: sync level ${syncLevel} is outside 0..15`);
  }
  const flags = argCount | (options.serialized ? 0x08 : 0) | (syncLevel << 4);
  return concatBytes(
    Uint8Array.of(AML_METHOD_OP),
    withPkgLength(concatBytes(nameString(path), Uint8Array.of(flags), ...terms)),
  );
}

/** DefReturn (§20.2.5.3): ReturnOp ArgObject. */
export function returnOp(value: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(AML_RETURN_OP), value);
}

/** DefPackage (§20.2.5.4): PackageOp PkgLength NumElements PackageElementList (≤ 255 elements). */
export function packageOp(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 255) throw new AmlEncodeError(`package of ${elements.length} elements (Package holds at most 255)`);
  return concatBytes(Uint8Array.of(AML_PACKAGE_OP), withPkgLength(concatBytes(Uint8Array.of(elements.length), ...elements)));
}

/** DefBuffer (§20.2.5.4): BufferOp PkgLength BufferSize ByteList, the size as an integer. */
export function buffer(bytes: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(AML_BUFFER_OP), withPkgLength(concatBytes(integer(bytes.length), bytes)));
}

// ---- resource descriptors (§6.4.2) ----

/** An I/O port range as the ASL IO() macro describes it. */
export interface IoPortResource {
  /** Lowest base address. */
  readonly min: number;
  /** Highest base address (equal to `min` for a fixed range). */
  readonly max: number;
  /** Base alignment in bytes (1-255; 0 only with min = max, per §6.4.2.5). */
  readonly alignment: number;
  /** Number of contiguous ports (0-255). */
  readonly length: number;
  /** Decodes 16 address bits (true, the PC's case) or only 10. Default true. */
  readonly decode16?: boolean;
}

function checkRange(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new AmlEncodeError(`${what} ${value} is outside 0..${max}`);
  }
}

/** I/O port descriptor (§6.4.2.5, 8 bytes): tag 0x47, info, min, max (LE words), alignment, length. */
export function ioPortDescriptor(io: IoPortResource): Uint8Array {
  checkRange('I/O range minimum', io.min, 0xffff);
  checkRange('I/O range maximum', io.max, 0xffff);
  checkRange('I/O alignment', io.alignment, 0xff);
  checkRange('I/O length', io.length, 0xff);
  if (io.max < io.min) throw new AmlEncodeError(`I/O range maximum ${io.max} is below minimum ${io.min}`);
  const info = io.decode16 === false ? 0 : RES_IO_DECODE16;
  return Uint8Array.of(RES_IO_TAG, info, io.min & 0xff, io.min >> 8, io.max & 0xff, io.max >> 8, io.alignment, io.length);
}

/** Interrupt flags of an IRQ descriptor with the information byte. */
export interface IrqFlags {
  readonly edge: boolean;
  readonly activeLow: boolean;
  readonly shared?: boolean;
  readonly wake?: boolean;
}

function irqMask(irqs: readonly number[]): number {
  if (irqs.length === 0) throw new AmlEncodeError('IRQ descriptor needs at least one IRQ');
  let mask = 0;
  for (const irq of irqs) {
    checkRange('ISA IRQ', irq, 15);
    mask |= 1 << irq;
  }
  return mask;
}

/**
 * IRQ descriptor (§6.4.2.1). Without `flags`: the 3-byte IRQNoFlags form (tag 0x22, the
 * 16-bit IRQ mask), which means edge triggered, active high, exclusive. With `flags`: the
 * 4-byte form (tag 0x23) adding the information byte.
 */
export function irqDescriptor(irqs: readonly number[], flags?: IrqFlags): Uint8Array {
  const mask = irqMask(irqs);
  if (!flags) return Uint8Array.of(RES_IRQ_NO_FLAGS_TAG, mask & 0xff, mask >> 8);
  const info =
    (flags.edge ? RES_IRQ_EDGE : 0) |
    (flags.activeLow ? RES_IRQ_ACTIVE_LOW : 0) |
    (flags.shared ? RES_IRQ_SHARED : 0) |
    (flags.wake ? RES_IRQ_WAKE : 0);
  return Uint8Array.of(RES_IRQ_TAG, mask & 0xff, mask >> 8, info);
}

/** End tag (§6.4.2.9): 0x79 and a checksum byte; 0 means "treat the checksum as valid". */
export function endTagDescriptor(): Uint8Array {
  return Uint8Array.of(RES_END_TAG, 0);
}

/** A ResourceTemplate: a Buffer holding the descriptors followed by an End Tag. */
export function resourceTemplate(...descriptors: readonly Uint8Array[]): Uint8Array {
  return buffer(concatBytes(...descriptors, endTagDescriptor()));
}

// ---- address space descriptors (§6.4.3.5, large resource data types) ----

/** Word Address Space descriptor tag (large item 0x08). */
export const RES_WORD_ADDRESS_TAG = 0x88;
/** DWord Address Space descriptor tag (large item 0x07). */
export const RES_DWORD_ADDRESS_TAG = 0x87;
/** Length field of a Word Address Space descriptor without a resource source (bytes after the 3-byte header). */
export const RES_WORD_ADDRESS_LENGTH = 13;
/** Length field of a DWord Address Space descriptor without a resource source. */
export const RES_DWORD_ADDRESS_LENGTH = 23;
/** Resource Type byte values (§6.4.3.5.1-3, byte 3). */
export const RES_ADDRESS_TYPE = { memory: 0, io: 1, bus: 2 } as const;
/** General flags bit 0: this device consumes the resource (0 = produces it, as a bridge window). */
export const RES_ADDRESS_CONSUMER = 0x01;
/** General flags bit 1: subtractive decode (_DEC). */
export const RES_ADDRESS_SUBTRACTIVE = 0x02;
/** General flags bit 2: the minimum address is fixed (_MIF). */
export const RES_ADDRESS_MIN_FIXED = 0x04;
/** General flags bit 3: the maximum address is fixed (_MAF). */
export const RES_ADDRESS_MAX_FIXED = 0x08;
/** I/O type-specific flags, bits 1:0 (_RNG): the window covers ISA and non-ISA ranges. */
export const RES_IO_RANGE_ENTIRE = 0x03;
/** Memory type-specific flags bit 0 (_RW): read-write. */
export const RES_MEMORY_READ_WRITE = 0x01;
/** Memory type-specific flags bits 2:1 (_MEM) values. */
export const RES_MEMORY_CACHEABILITY = { nonCacheable: 0, cacheable: 1, writeCombining: 2, prefetchable: 3 } as const;

/** One address range of an address space descriptor (the ASL WordIO/DWordMemory/... macros). */
export interface AddressSpaceResource {
  readonly type: keyof typeof RES_ADDRESS_TYPE;
  /** _MIN and _MAX, inclusive. */
  readonly min: number;
  readonly max: number;
  /** _LEN. Default max - min + 1. */
  readonly length?: number;
  /** _GRA. Default 0. */
  readonly granularity?: number;
  /** _TRA. Default 0. */
  readonly translation?: number;
  /** The device consumes the range (true) or produces it for its children (false, the default). */
  readonly consumer?: boolean;
  /** Subtractive decode. Default false. */
  readonly subtractive?: boolean;
  /** _MIF and _MAF. Default true (a fixed window). */
  readonly minFixed?: boolean;
  readonly maxFixed?: boolean;
  /**
   * Type-specific flags (byte 5). Default: memory = read-write, non-cacheable; I/O =
   * entire range; bus = 0. See `memoryTypeFlags`.
   */
  readonly typeFlags?: number;
}

/** Memory type-specific flags: _RW bit 0, _MEM bits 2:1. */
export function memoryTypeFlags(cacheability: keyof typeof RES_MEMORY_CACHEABILITY, readWrite = true): number {
  return (RES_MEMORY_CACHEABILITY[cacheability] << 1) | (readWrite ? RES_MEMORY_READ_WRITE : 0);
}

/** General and type-specific flag bytes of `r`. */
function addressFlags(r: AddressSpaceResource): [number, number] {
  const general =
    (r.consumer ? RES_ADDRESS_CONSUMER : 0) |
    (r.subtractive ? RES_ADDRESS_SUBTRACTIVE : 0) |
    (r.minFixed === false ? 0 : RES_ADDRESS_MIN_FIXED) |
    (r.maxFixed === false ? 0 : RES_ADDRESS_MAX_FIXED);
  const defaultType = r.type === 'memory' ? memoryTypeFlags('nonCacheable') : r.type === 'io' ? RES_IO_RANGE_ENTIRE : 0;
  const typeFlags = r.typeFlags ?? defaultType;
  checkRange('address space type-specific flags', typeFlags, 0xff);
  return [general, typeFlags];
}

/** The five numeric fields in descriptor order: _GRA, _MIN, _MAX, _TRA, _LEN, each checked to fit `max`. */
function addressFields(r: AddressSpaceResource, max: number): number[] {
  if (!(r.type in RES_ADDRESS_TYPE)) throw new AmlEncodeError(`unknown address space type '${String(r.type)}'`);
  const fields = [r.granularity ?? 0, r.min, r.max, r.translation ?? 0, r.length ?? r.max - r.min + 1];
  const names = ['granularity', 'minimum', 'maximum', 'translation offset', 'length'];
  fields.forEach((v, k) => checkRange(`address space ${names[k]}`, v, max));
  if (r.max < r.min) throw new AmlEncodeError(`address space maximum ${r.max} is below minimum ${r.min}`);
  return fields;
}

/** A large descriptor: tag, 16-bit length, type, flags, then `fields` as `width`-byte little-endian values. */
function addressDescriptor(tag: number, lengthField: number, r: AddressSpaceResource, fields: number[], width: number): Uint8Array {
  const [general, typeFlags] = addressFlags(r);
  const out = new Uint8Array(3 + lengthField);
  out[0] = tag;
  out[1] = lengthField & 0xff;
  out[2] = lengthField >> 8;
  out[3] = RES_ADDRESS_TYPE[r.type];
  out[4] = general;
  out[5] = typeFlags;
  fields.forEach((v, k) => {
    for (let b = 0; b < width; b++) out[6 + k * width + b] = Math.floor(v / 2 ** (8 * b)) & 0xff;
  });
  return out;
}

/**
 * Word Address Space descriptor (§6.4.3.5.3, 16 bytes): tag 0x88, length 13, resource type,
 * general flags, type-specific flags, then _GRA, _MIN, _MAX, _TRA, _LEN as 16-bit words.
 * ASL's WordIO and WordBusNumber.
 */
export function wordAddressDescriptor(r: AddressSpaceResource): Uint8Array {
  return addressDescriptor(RES_WORD_ADDRESS_TAG, RES_WORD_ADDRESS_LENGTH, r, addressFields(r, 0xffff), 2);
}

/**
 * DWord Address Space descriptor (§6.4.3.5.2, 26 bytes): tag 0x87, length 23, resource type,
 * general flags, type-specific flags, then _GRA, _MIN, _MAX, _TRA, _LEN as 32-bit dwords.
 * ASL's DWordMemory and DWordIO.
 */
export function dwordAddressDescriptor(r: AddressSpaceResource): Uint8Array {
  return addressDescriptor(RES_DWORD_ADDRESS_TAG, RES_DWORD_ADDRESS_LENGTH, r, addressFields(r, 0xffff_ffff), 4);
}
