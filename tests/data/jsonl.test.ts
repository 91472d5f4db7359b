import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonErrorOffset } from '../../lib/data/json-error';
import { appendJsonl, readJson, readJsonl, readJsonlLines, writeJsonAtomic, writeJsonl } from '../../lib/data/jsonl';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-jsonl-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readJsonl', () => {
  it('reads values and their line numbers, skipping blank lines', () => {
    const path = join(dir, 'a.jsonl');
    writeFileSync(path, '{"a":1}\n\n  [2,3]  \n"x"\n');
    expect(readJsonl(path)).toEqual([{ a: 1 }, [2, 3], 'x']);
    expect(readJsonlLines(path).map((l) => l.line)).toEqual([1, 3, 4]);
  });

  it('names file and line of a malformed line', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, '{"a":1}\n{"a":2\n{"a":3}\n');
    expect(() => readJsonl(path)).toThrow(`${path}:2: not valid JSON`);
    // A bad middle line is an error even when a torn last line would be tolerated.
    expect(() => readJsonl(path, { allowTornLastLine: true })).toThrow(`${path}:2:`);
  });

  it('drops a torn last line with a warning only when asked', () => {
    const path = join(dir, 'torn.jsonl');
    writeFileSync(path, '{"a":1}\n{"a":2}\n{"a":3, "b": "unfini');
    expect(() => readJsonl(path)).toThrow(`${path}:3: not valid JSON`);
    const warnings: string[] = [];
    expect(readJsonl(path, { allowTornLastLine: true, onWarning: (m) => warnings.push(m) })).toEqual([{ a: 1 }, { a: 2 }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${path}:3`);
  });

  it('does not treat a complete line that ends in a newline as torn', () => {
    const path = join(dir, 'bad-last.jsonl');
    writeFileSync(path, '{"a":1}\n{"a":\n');
    expect(() => readJsonl(path, { allowTornLastLine: true })).toThrow(`${path}:2:`);
  });
});

describe('writing', () => {
  it('round-trips through writeJsonl and leaves no temporary files', () => {
    const path = join(dir, 'sub', 'out.jsonl');
    const values = [{ id: 'a', text: 'line\nbreak "quoted"' }, { id: 'b', n: 2.5 }];
    writeJsonl(path, values);
    expect(readJsonl(path)).toEqual(values);
    writeJsonl(path, [values[1]]);
    expect(readJsonl(path)).toEqual([values[1]]);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['out.jsonl']);
  });

  it('appends after cutting a torn last line, so the file reads cleanly', () => {
    const path = join(dir, 'log.jsonl');
    appendJsonl(path, [{ step: 1 }]);
    appendJsonl(path, [{ step: 2 }, { step: 3 }]);
    writeFileSync(path, readFileSync(path, 'utf8') + '{"step": 4, "loss"'); // a crash mid-line
    const warnings: string[] = [];
    appendJsonl(path, [{ step: 5 }], { onWarning: (m) => warnings.push(m) });
    expect(warnings[0]).toContain('cut 18 bytes');
    expect(readJsonl(path)).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }, { step: 5 }]);
  });

  it('writeJsonAtomic and readJson round-trip; a syntax error names line and column', () => {
    const path = join(dir, 'config.json');
    writeJsonAtomic(path, { a: [1, 2], b: 'x' });
    expect(readJson(path)).toEqual({ a: [1, 2], b: 'x' });
    writeFileSync(path, '{\n  "a": 1,\n  "b": ]\n}\n');
    expect(() => readJson(path)).toThrow(`${path}:3:8: not valid JSON`);
  });
});

describe('jsonErrorOffset', () => {
  it.each([
    ['{"a": 1,}', 8],
    ['[1, 2', 5],
    ['{"a": tru}', 6],
    ['{"a": "x\\q"}', 9],
    ['[1] x', 4],
    ['{"a": [1, {"b": null}], "c": -1.5e3}', 36],
  ])('finds where %s goes wrong', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });
});
