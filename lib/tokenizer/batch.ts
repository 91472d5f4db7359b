import { withSpecials } from './ids';
import type { BatchEncodeOptions, BatchEncoding, Tokenizer } from './types';

/**
 * The one batch encoder every tokenizer shares: encode each text without specials, cut the body so that body +
 * BOS/EOS fits `maxLength` (on `truncateSide`, default left: keep the end), add BOS/EOS, then pad every row to
 * `maxLength` (default: the longest row) with the pad id on `padSide` (default right). BOS/EOS are never cut.
 */
export function encodeBatchWith(tokenizer: Tokenizer, texts: string[], options: BatchEncodeOptions = {}): BatchEncoding {
  const { addBos = false, addEos = false, maxLength, padSide = 'right', truncateSide = 'left' } = options;
  const specials = Number(addBos) + Number(addEos);
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < Math.max(1, specials))) {
    throw new Error(`encodeBatch: maxLength ${maxLength} must be an integer of at least ${Math.max(1, specials)}`);
  }
  const truncated: number[] = [];
  const rows = texts.map((text, row) => {
    let body = tokenizer.encode(text);
    if (maxLength !== undefined && body.length + specials > maxLength) {
      const keep = maxLength - specials;
      body = truncateSide === 'left' ? body.slice(body.length - keep) : body.slice(0, keep);
      truncated.push(row);
    }
    return withSpecials(body, tokenizer, options);
  });
  const width = maxLength ?? rows.reduce((widest, row) => Math.max(widest, row.length), 0);
  const ids: number[][] = [];
  const attentionMask: number[][] = [];
  for (const row of rows) {
    const padding = new Array<number>(width - row.length).fill(tokenizer.padId);
    const zeros = new Array<number>(padding.length).fill(0);
    const ones = new Array<number>(row.length).fill(1);
    ids.push(padSide === 'left' ? padding.concat(row) : row.concat(padding));
    attentionMask.push(padSide === 'left' ? zeros.concat(ones) : ones.concat(zeros));
  }
  return { ids, attentionMask, truncated };
}
