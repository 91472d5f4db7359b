import { replicationExperiment } from './shared/replication';

/** Fine-tune-CoT + RL on Last Letter Concatenation with the recorded GPT-3 rationales (see shared/replication.ts). */
export default replicationExperiment({ dataset: 'last_letters', title: 'Last Letter Concatenation', maxSeqLen: 224, epochs: 30, maxNewTokens: 120 });
