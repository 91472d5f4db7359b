export * from './types';
export { CharTokenizer } from './char';
export { ByteTokenizer } from './byte';
export { WordCharTokenizer } from './word-char';
export { HFTokenizer } from './hf';
export { loadTokenizer } from './load';
export { encodeBatchWith } from './batch';
export { saveAsHFTokenizer } from './hf-export';
