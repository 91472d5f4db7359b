export * from './types';
export { CharTokenizer } from './char';
export { ByteTokenizer } from './byte';
export { WordCharTokenizer } from './word-char';
export { type DeclaredSpecialIds, HFTokenizer } from './hf';
export { declaredSpecialIds, loadTokenizer } from './load';
export { encodeBatchWith } from './batch';
export { saveAsHFTokenizer } from './hf-export';
