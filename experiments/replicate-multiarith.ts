import { replicationExperiment } from './shared/replication';

/** Fine-tune-CoT + RL on MultiArith with the recorded GPT-3 rationales (see shared/replication.ts). */
export default replicationExperiment({ dataset: 'multiarith', title: 'MultiArith', maxSeqLen: 384, epochs: 16, maxNewTokens: 200 });
