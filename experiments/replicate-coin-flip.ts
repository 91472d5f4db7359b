import { replicationExperiment } from './shared/replication';

/** Fine-tune-CoT + RL on Coin Flip with the recorded GPT-3 rationales (see shared/replication.ts). */
export default replicationExperiment({ dataset: 'coin_flip', title: 'Coin Flip', maxSeqLen: 320, epochs: 24, maxNewTokens: 200 });
