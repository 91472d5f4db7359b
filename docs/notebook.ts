/**
 * Each stage by hand, as in a notebook: every call returns plain data to look at. Run it with
 * `npm run example:notebook` (about a minute on 2 cores), or paste the cells into a TypeScript notebook kernel.
 * It imports the package by name, as a user's own code would.
 */
import {
  CausalLM, CharTokenizer, CompositeReward, LocalLLMClient, PPOTrainer, Trainer, accuracy, defineReward, distill,
  encodeDistillSet, generateSyntheticTask, initBackend, Judge, offlineTeacher, predictWithStudent,
  questionText, registerReward, selectRecords, splitExamples,
} from 'rationale-rl';

async function main() {
  // 1. Backend: wasm with the project's fast kernels here; tfjs-node(-gpu) when installed.
  console.log('backend:', await initBackend());

  // 2. Data: a generated task, split 70/30 by seed.
  const examples = generateSyntheticTask('coin_flip', { size: 120, steps: 1, seed: 0 });
  const { train, test } = splitExamples(examples, { seed: 0 });
  console.log('example:', train[0]);

  // 3. Teacher: rationales with planted mistakes; keep the correct ones (Fine-tune-CoT filtering).
  const records = offlineTeacher(train, { errorRate: 0.3, mistakes: { wrongStep: 1, skippedStep: 1, repetition: 1, irrelevant: 1 }, samplesPerQuestion: 1, seed: 0 });
  const { records: kept, stats } = selectRecords(records, train, { filter: 'correct', dedupe: true });
  console.log('teacher records:', stats, '\n  e.g.', records[0].rationale);

  // 4. Distil a small student (a few epochs).
  const tokenizer = CharTokenizer.fromTexts([' ###-->', ...examples.map(questionText), ...records.map((r) => r.rationale), 'yesno']);
  const student = CausalLM.create({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 48, nLayers: 2, nHeads: 4, maxSeqLen: 200 }, { seed: 0 });
  const { rows } = encodeDistillSet(kept, train, tokenizer, { format: 'fine-tune-cot', alpha: 0.5, maxLength: 200 });
  const trainer = new Trainer(student, { schedule: { peakLr: 3e-3, warmupSteps: 5, totalSteps: 3 * Math.ceil(rows.length / 16) } });
  const { state } = await distill(trainer, tokenizer, rows, test.slice(0, 16),
    { epochs: 3, batchSize: 16, evalEvery: 3, maxNewTokens: 80, format: 'fine-tune-cot', seed: 0, checkpointEvery: 1000 });
  console.log('distillation:', state.history);

  // 5. Generate: the student's rationales and answers for held-out questions.
  const predictions = await predictWithStudent(student, tokenizer, test.slice(0, 4), { format: 'fine-tune-cot', maxNewTokens: 80 });
  console.log('student predictions:', predictions, 'accuracy', accuracy(predictions));

  // 6. Score: a custom reward next to the built-ins, combined; every component is returned.
  registerReward('mentions-coin', defineReward({
    name: 'mentions-coin',
    score: async (batch) => batch.map(({ rationale }) => (rationale.includes('coin') ? 1 : 0)),
  }));
  const reward = new CompositeReward({ weights: { 'answer-correctness': 1, coherence: 0.2, 'mentions-coin': 0.1 } });
  // a small judge reads a question + rationale longer than its context by their end (logged), as the experiment stages do
  const judgeModel = new LocalLLMClient(student.clone(), tokenizer, { name: 'frozen judge', longPrompts: 'keep-end' });
  const judge = new Judge(judgeModel, { maxTokens: 24 }); // the judge's prompt and answer length, as an experiment's judge settings
  const scores = await reward.scoreAll(predictions.map((p, i) => ({ example: test[i], rationale: p.rationale })), { judge });
  console.log('reward components:', scores.components, 'total:', scores.total);

  // 7. One PPO iteration by hand: rollout -> score -> update.
  const ppo = new PPOTrainer({ policy: student, tokenizer, reward, judge, seed: 0, config: { maxNewTokens: 80, minibatchSize: 8, learningRate: 1e-4 } });
  const rollout = await ppo.rollout(train.slice(0, 8));
  const scored = await ppo.score(rollout);
  const { stats: iteration } = await ppo.update(scored);
  console.log('PPO iteration:', { rewards: iteration.rewards, kl: iteration.kl, clipFraction: iteration.clipFraction, timings: iteration.timings });

  // 8. Evaluate: the frozen judge answers held-out questions from the student's rationales.
  const judged = await judge.answerAll(test.slice(0, 8), new Map(predictions.map((p) => [p.exampleId, p.rationale])));
  console.log('judge answers:', judged);

  ppo.dispose();
  trainer.dispose();
  judgeModel.lm.dispose();
  student.dispose();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
