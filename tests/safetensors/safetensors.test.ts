import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from '../../lib/model/safetensors';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-safetensors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file assembled by hand: 8-byte LE length, the header text as given, then the data bytes. */
function handFile(name: string, header: string, data: number[], lengthOverride?: number): string {
  const json = Buffer.from(header, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(lengthOverride ?? json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, Buffer.from(data)]));
  return path;
}

/** Little-endian bytes of 16-bit words. */
const le16 = (...words: number[]) => words.flatMap((w) => [w & 0xff, w >> 8]);

describe('reading a file written byte by byte', () => {
  const header =
    '{"half":{"dtype":"F16","shape":[2,4],"data_offsets":[0,16]},' +
    '"brain":{"dtype":"BF16","shape":[5],"data_offsets":[16,26]},' +
    '"ids":{"dtype":"I64","shape":[2],"data_offsets":[26,42]},' +
    '"single":{"dtype":"F32","shape":[],"data_offsets":[42,46]},' +
    '"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[46,49]},' +
    '"__metadata__":{"format":"pt"}}';
  const data = [
    // F16: 1.0, -2.5, 65504 (max), 2^-24 (min subnormal), 1023*2^-24 (max subnormal), +inf, -0, NaN
    ...le16(0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0x8000, 0x7e00),
    // BF16: 1.0, -2.5, -inf, 2^-133 (smallest bf16 subnormal), 3.140625
    ...le16(0x3f80, 0xc020, 0xff80, 0x0001, 0x4049),
    // I64: 5, -7
    5, 0, 0, 0, 0, 0, 0, 0, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    // F32 0x3dcccccd (0.1f)
    0xcd, 0xcc, 0xcc, 0x3d,
    // BOOL
    1, 0, 1,
  ];

  it('decodes F16, BF16, I64, F32 and BOOL to the known values', () => {
    const tensors = readSafetensors(handFile('hand.safetensors', header, data));
    expect([...tensors.keys()]).toEqual(['half', 'brain', 'ids', 'single', 'mask']);

    const half = tensors.get('half')!;
    expect(half.dtype).toBe('F16');
    expect(half.shape).toEqual([2, 4]);
    const h = Array.from(half.data);
    expect(h.slice(0, 6)).toEqual([1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity]);
    expect(Object.is(h[6], -0)).toBe(true);
    expect(h[7]).toBeNaN();

    expect(Array.from(tensors.get('brain')!.data)).toEqual([1, -2.5, -Infinity, 2 ** -133, 3.140625]);
    const ids = tensors.get('ids')!;
    expect(ids.data).toBeInstanceOf(Int32Array);
    expect(Array.from(ids.data)).toEqual([5, -7]);
    expect(tensors.get('single')!.shape).toEqual([]);
    expect(tensors.get('single')!.data[0]).toBe(Math.fround(0.1));
    expect(Array.from(tensors.get('mask')!.data)).toEqual([1, 0, 1]);
  });

  it('reads the header and metadata without the data', () => {
    const path = handFile('hand2.safetensors', header, data);
    const parsed = readSafetensorsHeader(path);
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect(parsed.dataStart).toBe(8 + Buffer.byteLength(header));
    expect(parsed.entries.map((e) => [e.name, e.begin, e.end])).toEqual([
      ['half', 0, 16], ['brain', 16, 26], ['ids', 26, 42], ['single', 42, 46], ['mask', 46, 49],
    ]);
  });

  it('accepts header entries listed in any order as long as the data is tiled', () => {
    const path = handFile(
      'order.safetensors',
      '{"z":{"dtype":"F16","shape":[1],"data_offsets":[2,4]},"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}',
      le16(0x3c00, 0xc100),
    );
    const tensors = readSafetensors(path);
    expect(tensors.get('a')!.data[0]).toBe(1);
    expect(tensors.get('z')!.data[0]).toBe(-2.5);
  });
});

describe('half-precision conversion', () => {
  it('float16 -> float32 -> float16 is the identity on every non-NaN bit pattern', () => {
    for (let h = 0; h < 65536; h++) {
      const value = float16ToFloat32(h);
      if (Number.isNaN(value)) continue;
      if (float32ToFloat16(value) !== h) throw new Error(`0x${h.toString(16)} -> ${value} -> 0x${float32ToFloat16(value).toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even, in normal, subnormal and overflow ranges', () => {
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(float32ToFloat16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(float32ToFloat16(65519)).toBe(0x7bff);
    expect(float32ToFloat16(65520)).toBe(0x7c00); // tie between 65504 and 65536 -> inf
    expect(float32ToFloat16(1e10)).toBe(0x7c00);
    expect(float32ToFloat16(-1e10)).toBe(0xfc00);
    expect(float32ToFloat16(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(float32ToFloat16(1.5 * 2 ** -25)).toBe(0x0001);
    expect(float32ToFloat16(-3 * 2 ** -25)).toBe(0x8002); // tie 1.5 units -> 2
    expect(float32ToFloat16(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the smallest normal
    expect(float32ToFloat16(1e-30)).toBe(0x0000);
    expect(float32ToFloat16(NaN) & 0x7fff).toBeGreaterThan(0x7c00);
  });

  it('bfloat16 rounds to nearest even and keeps NaN a NaN', () => {
    expect(float32ToBfloat16(1)).toBe(0x3f80);
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(float32ToBfloat16(-2.5)).toBe(0xc020);
    expect(float32ToBfloat16(3.4e38)).toBe(0x7f80); // above the largest bf16 -> inf
    expect(float32ToBfloat16(NaN) & 0x7fff).toBeGreaterThan(0x7f80);
  });
});

describe('writing', () => {
  it('round-trips float32 and int32 bit-exact, with metadata and a padded header', () => {
    const special = new Float32Array([0, -0, 1.5, -1e-45, 3.4028234663852886e38, Infinity, -Infinity, NaN, Math.PI]);
    const random = new Float32Array(1000).map((_, i) => Math.sin(i * 12.9898) * 43758.5453);
    const tokens = new Int32Array([0, -1, 2147483647, -2147483648, 42, 7]);
    const path = join(dir, 'roundtrip.safetensors');
    writeSafetensors(
      path,
      {
        'transformer.wte.weight': { shape: [10, 100], data: random },
        special: { shape: [9], data: special },
        tokens: { shape: [2, 3], data: tokens },
        'ünïcode·name': { shape: [0, 4], data: new Float32Array(0) },
      },
      { format: 'pt', note: 'é' },
    );
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    expect(bytes.length).toBe(8 + headerLength + 4000 + 36 + 24);

    const back = readSafetensors(path);
    const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    expect(bits(back.get('transformer.wte.weight')!.data)).toEqual(bits(random));
    expect(bits(back.get('special')!.data)).toEqual(bits(special));
    expect(back.get('tokens')!.dtype).toBe('I32');
    expect(back.get('tokens')!.shape).toEqual([2, 3]);
    expect(Array.from(back.get('tokens')!.data)).toEqual(Array.from(tokens));
    expect(back.get('ünïcode·name')!.shape).toEqual([0, 4]);
    expect(readSafetensorsHeader(path).metadata).toEqual({ format: 'pt', note: 'é' });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('writes F16 and BF16 as the expected bytes', () => {
    const path = join(dir, 'half.safetensors');
    const values = new Float32Array([1, -2.5, 65504, 2 ** -24]);
    writeSafetensors(path, { h: { shape: [4], data: values, dtype: 'F16' }, b: { shape: [4], data: values } }, undefined, {
      floatDtype: 'BF16',
    });
    const header = readSafetensorsHeader(path);
    expect(header.entries.map((e) => e.dtype)).toEqual(['F16', 'BF16']);
    const data = [...readFileSync(path).subarray(header.dataStart)];
    expect(data).toEqual([
      ...le16(0x3c00, 0xc100, 0x7bff, 0x0001),
      // bf16 of 65504 = 0x477fe0 rounds to 0x4780 (65536); 2^-24 = 0x33800000
      ...le16(0x3f80, 0xc020, 0x4780, 0x3380),
    ]);
    expect(Array.from(readSafetensors(path).get('b')!.data)).toEqual([1, -2.5, 65536, 2 ** -24]);
  });

  it('overwrites an existing file in place and rejects bad input by name', () => {
    const path = join(dir, 'over.safetensors');
    writeSafetensors(path, { a: { shape: [1], data: new Float32Array([1]) } });
    writeSafetensors(path, { a: { shape: [2], data: new Float32Array([2, 3]) } });
    expect(Array.from(readSafetensors(path).get('a')!.data)).toEqual([2, 3]);
    expect(() => writeSafetensors(path, { w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensor "w".*3 values.*holds 4/);
    expect(Array.from(readSafetensors(path).get('a')!.data)).toEqual([2, 3]);
  });
});

describe('corrupt files', () => {
  const good = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
  const goodData = new Array(12).fill(0);

  it('reads the good file these are made from', () => {
    expect(readSafetensors(handFile('good.safetensors', good, goodData)).size).toBe(2);
  });

  const cases: [string, () => string, RegExp][] = [
    ['a file shorter than 8 bytes', () => { const p = join(dir, 'tiny.safetensors'); writeFileSync(p, Buffer.from([1, 2, 3])); return p; }, /tiny\.safetensors: 3 bytes is too short/],
    ['a header length past the end', () => handFile('longhdr.safetensors', good, goodData, 5000), /longhdr\.safetensors: header length 5000 runs past the end/],
    ['a header that is not JSON', () => handFile('badjson.safetensors', good.slice(0, -3), goodData), /badjson\.safetensors: header is not valid UTF-8 JSON/],
    ['a header that is a JSON array', () => handFile('array.safetensors', '[1,2]', []), /array\.safetensors: header is not a JSON object/],
    ['truncated data', () => handFile('trunc.safetensors', good, goodData.slice(0, 10)), /trunc\.safetensors: tensor "v": data_offsets end at 12 but the file holds only 10 data bytes/],
    ['trailing bytes', () => handFile('trail.safetensors', good, [...goodData, 0, 0]), /trail\.safetensors: tensors cover 12 data bytes but the file holds 14/],
    ['overlapping offsets', () => handFile('overlap.safetensors', good.replace('[8,12]', '[4,8]'), goodData.slice(0, 8)), /overlap\.safetensors: tensor "v" \[4, 8\) overlaps "w" \[0, 8\)/],
    ['a gap between tensors', () => handFile('gap.safetensors', good.replace('[8,12]', '[12,16]'), new Array(16).fill(0)), /gap\.safetensors: tensor "v" starts at 12, leaving a gap after byte 8/],
    ['size not matching the shape', () => handFile('size.safetensors', good.replace('"shape":[2]', '"shape":[3]'), goodData), /size\.safetensors: tensor "w": holds 8 bytes but shape \[3\] of F32 needs 12/],
    ['offsets ending before they begin', () => handFile('backwards.safetensors', good.replace('[0,8]', '[8,0]'), goodData), /backwards\.safetensors: tensor "w": data_offsets \[8, 0\] end before they begin/],
    ['an unsupported dtype', () => handFile('dtype.safetensors', good.replace('"F32","shape":[2]', '"C64","shape":[2]'), goodData), /dtype\.safetensors: tensor "w": unsupported dtype "C64"/],
    ['a missing shape', () => handFile('noshape.safetensors', good.replace('"shape":[1],', ''), goodData), /noshape\.safetensors: tensor "v": shape undefined/],
    ['an I64 beyond int32', () => handFile('i64.safetensors', '{"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', [0, 0, 0, 0x80, 0, 0, 0, 0]), /i64\.safetensors: tensor "n" element 0 = 2147483648 does not fit in int32/],
    ['non-string metadata', () => handFile('meta.safetensors', good.slice(0, -1) + ',"__metadata__":{"epoch":3}}', goodData), /meta\.safetensors: __metadata__\.epoch is not a string/],
  ];
  it.each(cases)('rejects %s with an error naming the file and tensor', (_, make, message) => {
    const path = make();
    expect(() => readSafetensors(path)).toThrow(message);
  });

  it('rejects a written file cut anywhere, in the length, the header or the data', () => {
    const path = join(dir, 'whole.safetensors');
    writeSafetensors(path, { a: { shape: [3], data: new Float32Array([1, 2, 3]) }, b: { shape: [2], data: new Int32Array([4, 5]) } });
    const bytes = readFileSync(path);
    const dataStart = readSafetensorsHeader(path).dataStart;
    for (const cut of [0, 5, 8, 20, dataStart - 1, dataStart, dataStart + 3, bytes.length - 1]) {
      const cutPath = join(dir, `cut-${cut}.safetensors`);
      writeFileSync(cutPath, bytes.subarray(0, cut));
      expect(() => readSafetensors(cutPath)).toThrow(new RegExp(`cut-${cut}\\.safetensors: .*(too short|runs past the end|truncated)`));
    }
  });

  it('names the path when the file does not exist', () => {
    expect(() => readSafetensors(join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors/);
  });
});
