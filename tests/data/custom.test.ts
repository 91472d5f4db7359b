import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPath, loadJsonl } from '../../lib/data/custom';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rrl-custom-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function jsonl(name: string, rows: unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

describe('loadJsonl with a field mapping', () => {
  it('reads nested fields, aliases, paragraphs and an id field', () => {
    const path = jsonl('mine.jsonl', [
      { uid: 'a1', body: { q: 'Who wrote Hamlet?' }, gold: ['William Shakespeare', 'Shakespeare'], docs: [{ title: 'Hamlet', text: 'A play.' }, ['Stratford', ['A town.', 'On the Avon.']]] },
      { uid: 'a2', body: { q: 'Capital of France?' }, gold: 'Paris', docs: 'Paris is the capital.' },
    ]);
    const examples = loadJsonl(path, { question: 'body.q', answer: 'gold', context: 'docs', id: 'uid' });
    expect(examples).toEqual([
      {
        id: 'mine/a1', question: 'Who wrote Hamlet?', answers: ['William Shakespeare', 'Shakespeare'], answerType: 'text', dataset: 'mine',
        context: [{ title: 'Hamlet', text: 'A play.' }, { title: 'Stratford', text: 'A town. On the Avon.' }],
      },
      { id: 'mine/a2', question: 'Capital of France?', answers: ['Paris'], answerType: 'text', dataset: 'mine', context: [{ title: '', text: 'Paris is the capital.' }] },
    ]);
  });

  it('infers number and yes-no answer types, and choice when choices are mapped', () => {
    const numbers = loadJsonl(jsonl('n.jsonl', [{ q: 'x', a: 3.0 }, { q: 'y', a: '1,200' }]), { question: 'q', answer: 'a' });
    expect(numbers.map((e) => [e.answerType, e.answers[0]])).toEqual([['number', '3'], ['number', '1200']]);
    const yesNo = loadJsonl(jsonl('y.jsonl', [{ q: 'x', a: true }, { q: 'y', a: 'No' }]), { question: 'q', answer: 'a' }, { dataset: 'yn' });
    expect(yesNo.map((e) => [e.id, e.answerType, e.answers[0]])).toEqual([['yn/0', 'yes-no', 'yes'], ['yn/1', 'yes-no', 'no']]);
    const choices = loadJsonl(jsonl('c.jsonl', [{ q: 'x', a: 'B', opts: ['red', 'blue'] }, { q: 'y', a: 'A', opts: { A: 'up', B: 'down' } }]), { question: 'q', answer: 'a', choices: 'opts' });
    expect(choices[0]).toMatchObject({ answerType: 'choice', choices: [{ label: 'A', text: 'red' }, { label: 'B', text: 'blue' }] });
    expect(choices[1].choices).toEqual([{ label: 'A', text: 'up' }, { label: 'B', text: 'down' }]);
  });

  it('names file, line and field when a record lacks a mapped field', () => {
    const path = jsonl('bad.jsonl', [{ q: 'x', a: '1' }, { q: 'y', ans: '2' }]);
    expect(() => loadJsonl(path, { question: 'q', answer: 'a' })).toThrow(`${path}:2: answer field "a" must be a non-empty string`);
    expect(() => loadJsonl(path, { question: 'q', answer: 'a', gold: 'x' } as never)).toThrow('unknown key "gold"');
    const dup = jsonl('dup.jsonl', [{ id: 1, q: 'x', a: '1' }, { id: 1, q: 'y', a: '2' }]);
    expect(() => loadJsonl(dup, { question: 'q', answer: 'a', id: 'id' })).toThrow('duplicate id "dup/1"');
  });

  it('getPath follows object keys and list indexes', () => {
    expect(getPath({ a: [{ b: 1 }, { b: 2 }] }, 'a.1.b')).toBe(2);
    expect(getPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
