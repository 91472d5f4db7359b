/**
 * Safetensors read/write. The format: an 8-byte little-endian unsigned header length `n`, `n` bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { key: value } }`, then the raw
 * little-endian tensor bytes; offsets are relative to the start of that data block, and the tensors tile it
 * exactly (no gaps, no overlaps). Typed arrays here are host-endian, which is little-endian on every platform
 * Node supports in practice (x86, ARM).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../fs';

/** Stored element types this module reads. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Float types a tensor may be written as. */
export type SafetensorsFloatDtype = 'F32' | 'F16' | 'BF16';

/**
 * One tensor read from a file: `dtype` is the stored type; `data` holds it decoded, row-major. Float types (F16,
 * BF16 exactly, F64 rounded) become a Float32Array; integer and bool types an Int32Array (I64 must fit in int32).
 */
export type SafetensorsTensor =
  | { dtype: 'F64' | 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array }
  | { dtype: 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'; shape: number[]; data: Int32Array };

/** One tensor to write. Float32Array data is written as `dtype` (default: the writer's `floatDtype`, F32); Int32Array as I32. */
export interface SafetensorsInput {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype?: SafetensorsFloatDtype;
}

/** What the header says about one tensor, offsets relative to the data block. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** The parsed, validated header of a safetensors file. */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Byte position in the file where the data block starts (8 + header length). */
  dataStart: number;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Headers above this size are refused as corrupt (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

// --- half-precision conversion ---------------------------------------------------------------------------

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** IEEE 754 binary16 bits -> number: sign, 5-bit exponent (bias 15), 10-bit fraction; exponent 0 is subnormal. */
export function float16ToFloat32(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** number -> binary16 bits, rounding to nearest, ties to even; too large becomes ±inf, too small ±0 or subnormal. */
export function float32ToFloat16(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  // Normal half: keep the top 10 mantissa bits; a carry out of the mantissa correctly bumps the exponent
  // (and 0x7bff + 1 = 0x7c00 is infinity).
  // Subnormal half: the value is (1.mantissa) * 2^(halfExponent - 1) / 2^-24 units of the smallest subnormal.
  const significand = halfExponent > 0 ? mantissa : mantissa | 0x800000;
  const dropped = halfExponent > 0 ? 13 : 14 - halfExponent;
  if (dropped > 24) return sign;
  const kept = significand >>> dropped;
  const remainder = significand & ((1 << dropped) - 1);
  const halfway = 1 << (dropped - 1);
  const rounded = kept + (remainder > halfway || (remainder === halfway && kept & 1) ? 1 : 0);
  return sign | (halfExponent > 0 ? (halfExponent << 10) + rounded : rounded);
}

/** number -> bfloat16 bits (the top half of float32), rounding to nearest, ties to even; NaN stays a quiet NaN. */
export function float32ToBfloat16(value: number): number {
  scratchFloat[0] = value;
  const bits = scratchBits[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let float16Table: Float32Array | undefined;
/** All 65536 binary16 values, decoded once: decoding a tensor is then one lookup per element. */
function float16Lookup(): Float32Array {
  if (!float16Table) {
    float16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) float16Table[h] = float16ToFloat32(h);
  }
  return float16Table;
}

// --- reading ---------------------------------------------------------------------------------------------

function readExactly(fd: number, length: number, position: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  if (done < length) throw new Error(`short read: wanted ${length} bytes at ${position}, got ${done}`);
  return bytes;
}

function parseEntry(path: string, name: string, raw: unknown, dataLength: number): SafetensorsEntry {
  const where = `${path}: tensor "${name}"`;
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in BYTES_PER_ELEMENT)) {
    throw new Error(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Error(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Error(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw new Error(`${where}: data_offsets end at ${end} but the file holds only ${dataLength} data bytes (truncated file?)`);
  }
  const bytes = BYTES_PER_ELEMENT[dtype as SafetensorsDtype];
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * bytes;
  if (end - begin !== expected) {
    throw new Error(`${where}: holds ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/** The tensors must tile the data block exactly: sorted by offset, each starts where the previous ended. */
function checkTiling(path: string, entries: SafetensorsEntry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  let previous: SafetensorsEntry | undefined;
  for (const entry of sorted) {
    if (entry.begin < position) {
      throw new Error(`${path}: tensor "${entry.name}" [${entry.begin}, ${entry.end}) overlaps "${previous!.name}" [${previous!.begin}, ${previous!.end})`);
    }
    if (entry.begin > position) {
      throw new Error(`${path}: tensor "${entry.name}" starts at ${entry.begin}, leaving a gap after byte ${position}`);
    }
    position = entry.end;
    previous = entry;
  }
  if (position !== dataLength) {
    throw new Error(`${path}: tensors cover ${position} data bytes but the file holds ${dataLength} after the header`);
  }
}

function parseMetadata(path: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: __metadata__ is not an object`);
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw new Error(`${path}: __metadata__.${key} is not a string`);
  }
  return raw as Record<string, string>;
}

function readHeaderFrom(path: string, fd: number): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw new Error(`${path}: ${fileSize} bytes is too short for a safetensors file (8-byte header length missing)`);
  const headerLength = Buffer.from(readExactly(fd, 8, 0)).readBigUInt64LE(0);
  if (headerLength > BigInt(fileSize - 8)) {
    throw new Error(`${path}: header length ${headerLength} runs past the end of the file (${fileSize} bytes; truncated or not safetensors)`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new Error(`${path}: header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  const dataStart = 8 + Number(headerLength);
  const dataLength = fileSize - dataStart;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(readExactly(fd, dataStart - 8, 8)));
  } catch (error) {
    throw new Error(`${path}: header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error(`${path}: header is not a JSON object`);
  const { __metadata__: rawMetadata, ...tensors } = header as Record<string, unknown>;
  const entries = Object.entries(tensors).map(([name, raw]) => parseEntry(path, name, raw, dataLength));
  checkTiling(path, entries, dataLength);
  return { entries, metadata: parseMetadata(path, rawMetadata), dataStart };
}

/** Reads and validates a file's header only (names, dtypes, shapes, offsets, metadata), without the data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return readHeaderFrom(path, fd);
  } finally {
    closeSync(fd);
  }
}

function decode(path: string, entry: SafetensorsEntry, bytes: Uint8Array): SafetensorsTensor {
  const { name, dtype, shape } = entry;
  const n = bytes.byteLength / BYTES_PER_ELEMENT[dtype];
  const buffer = bytes.buffer;
  switch (dtype) {
    case 'F32':
      return { dtype, shape, data: new Float32Array(buffer) };
    case 'F64':
      return { dtype, shape, data: Float32Array.from(new Float64Array(buffer)) };
    case 'F16': {
      const table = float16Lookup();
      const halves = new Uint16Array(buffer);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = table[halves[i]];
      return { dtype, shape, data };
    }
    case 'BF16': {
      // bfloat16 is the top 16 bits of a float32: shifting back is exact.
      const halves = new Uint16Array(buffer);
      const data = new Float32Array(n);
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < n; i++) bits[i] = halves[i] << 16;
      return { dtype, shape, data };
    }
    case 'I64': {
      const wide = new BigInt64Array(buffer);
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const value = wide[i];
        if (value > 2147483647n || value < -2147483648n) {
          throw new Error(`${path}: tensor "${name}" element ${i} = ${value} does not fit in int32`);
        }
        data[i] = Number(value);
      }
      return { dtype, shape, data };
    }
    case 'I32':
      return { dtype, shape, data: new Int32Array(buffer) };
    case 'I16':
      return { dtype, shape, data: Int32Array.from(new Int16Array(buffer)) };
    case 'I8':
      return { dtype, shape, data: Int32Array.from(new Int8Array(buffer)) };
    case 'U8':
    case 'BOOL':
      return { dtype, shape, data: Int32Array.from(bytes) };
  }
}

/**
 * Reads every tensor of a safetensors file, validating the header first (each problem is one Error naming the
 * file and the tensor). Map order is the header's order.
 */
export function readSafetensors(path: string): Map<string, SafetensorsTensor> {
  const fd = openSync(path, 'r');
  try {
    const header = readHeaderFrom(path, fd);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const entry of header.entries) {
      const bytes = readExactly(fd, entry.end - entry.begin, header.dataStart + entry.begin);
      tensors.set(entry.name, decode(path, entry, bytes));
    }
    return tensors;
  } finally {
    closeSync(fd);
  }
}

// --- writing ---------------------------------------------------------------------------------------------

function encode(data: Float32Array | Int32Array, dtype: SafetensorsDtype): Uint8Array {
  if (dtype === 'F32' || dtype === 'I32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const toHalf = dtype === 'F16' ? float32ToFloat16 : float32ToBfloat16;
  const halves = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) halves[i] = toHalf(data[i]);
  return new Uint8Array(halves.buffer);
}

/**
 * Writes tensors to a safetensors file atomically (temporary file in the same folder, then rename). Float32Array
 * data is stored as its own `dtype`, else `options.floatDtype` (default F32, which round-trips bit-exact);
 * Int32Array data as I32. The header is space-padded so the data block starts at a multiple of 8 bytes.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
  options: { floatDtype?: SafetensorsFloatDtype } = {},
): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new Error(`writeSafetensors ${path}: metadata "${key}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  const blocks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const where = `writeSafetensors ${path}: tensor "${name}"`;
    if (name === '__metadata__' || name === '') throw new Error(`${where}: reserved or empty name`);
    const { shape, data } = tensor;
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where}: bad shape [${shape.join(', ')}]`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`${where}: ${data.length} values but shape [${shape.join(', ')}] holds ${size}`);
    let dtype: SafetensorsDtype;
    if (data instanceof Int32Array) {
      if (tensor.dtype) throw new Error(`${where}: dtype ${tensor.dtype} given for Int32Array data (written as I32)`);
      dtype = 'I32';
    } else if (data instanceof Float32Array) {
      dtype = tensor.dtype ?? options.floatDtype ?? 'F32';
      if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`${where}: cannot write dtype ${dtype}`);
    } else {
      throw new Error(`${where}: data must be a Float32Array or Int32Array`);
    }
    const bytes = encode(data, dtype);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.byteLength] };
    blocks.push(bytes);
    offset += bytes.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;
  const file = new Uint8Array(8 + headerLength + offset);
  Buffer.from(file.buffer).writeBigUInt64LE(BigInt(headerLength), 0);
  file.set(json, 8);
  file.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const block of blocks) {
    file.set(block, position);
    position += block.byteLength;
  }
  writeFileAtomic(path, file);
}
