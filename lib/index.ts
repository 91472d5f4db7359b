/**
 * rationale-rl: distil chain-of-thought rationales into a small LM, refine them with PPO against pluggable
 * rewards, and use them to guide a frozen large LLM. Everything a notebook user imports comes from here.
 */
export * from './backend';
export * from './tokenizer';
export * from './model';
export * from './data';
export * from './llm';
export * from './teacher';
export * from './train';
export * from './rl';
export * from './eval';
export * from './experiment';
export * from './log';
export { Random } from './random';
export { InputError } from './input-error';
export * from '../rewards';
