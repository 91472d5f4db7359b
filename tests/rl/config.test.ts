import { validateExperiment } from '../../lib/experiment/config';
import { trainerSettings } from '../../lib/experiment/stages/rl';
import { resolvePPOConfig } from '../../lib/rl/config';

const experiment = (rl: Record<string, unknown> = {}) => validateExperiment({ name: 'x', data: { source: { kind: 'synthetic', task: 'last_letters' } }, rl });

test('the trainer\'s defaults are the values it ran with before the schema defined them', () => {
  // The former DEFAULT_PPO_CONFIG, plus the fallbacks the trainer applied in code (k1, whitening, no decay, stop at -->).
  expect(resolvePPOConfig()).toEqual({
    algorithm: 'ppo', samplesPerPrompt: 1, ppoEpochs: 2, minibatchSize: 8, learningRate: 2e-5, clipRange: 0.2,
    valueClipRange: 0.2, valueCoef: 0.5, entropyCoef: 0, gamma: 1, lambda: 0.95, kl: { coef: 0.05, horizon: 10000, estimator: 'k1' },
    rewardScaling: 'none', gradClip: 1, temperature: 1, maxNewTokens: 96, whitenAdvantages: true, weightDecay: 0, stop: ['-->'],
    // knobs added since, at the values that leave the update as it was
    lossAggregation: 'token-mean', advantageScaling: 'group', maskTruncated: false, lrSchedule: 'constant', warmupIterations: 0, minLearningRate: 0,
    gradientAccumulationSteps: 1,
  });
  // An experiment's rl section hands the trainer exactly these, with nothing restated.
  expect(trainerSettings(experiment().rl)).toEqual(resolvePPOConfig());
});

test('every trainer knob is settable from an experiment and reaches the trainer', () => {
  const knobs = { kl: { coef: 0.1, estimator: 'k3' as const, horizon: 10000 }, topK: 5, whitenAdvantages: false, weightDecay: 0.01, stop: ['###'], rewardClip: 3 };
  const settings = trainerSettings(experiment(knobs).rl);
  expect(settings).toEqual({ ...resolvePPOConfig(), ...knobs });
  expect(Object.keys(settings)).not.toContain('iterations');
});

test('an experiment asking RLOO/GRPO for one sample per prompt is refused at validation, naming the field', () => {
  expect(() => experiment({ algorithm: 'grpo', samplesPerPrompt: 1 })).toThrow(/rl\.samplesPerPrompt: algorithm "grpo" needs samplesPerPrompt >= 2, got 1/);
  expect(() => experiment({ kl: { estimator: 'k9' } })).toThrow(/rl\.kl\.estimator/);
});
