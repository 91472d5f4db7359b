/**
 * Activation recomputation ("gradient checkpointing", Chen et al., 2016, "Training Deep Nets with Sublinear Memory
 * Cost"): a piece of the network runs as one op whose forward pass keeps none of its intermediate tensors, only
 * its input; the backward pass runs the piece again under a tape of its own and differentiates that. Memory for
 * the backward pass drops from every piece's activations to one piece's, for one more forward pass of compute.
 */
import * as tf from '@tensorflow/tfjs';

/** The function tf.customGrad wraps: the forward value and its gradient function, from tensors and `save`. */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

/** Something whose random draws must repeat when a piece is recomputed (LoRA's dropout). */
export interface RandomReplay {
  /** The state of its random generator: read before the forward pass, set again before recomputing. */
  randomState: number;
}

/**
 * `piece(x, constants)` as one differentiable op that saves only `x` and `constants`. Gradients flow to `x` and to
 * `weights` (the trainable variables the piece reads from its closure); `constants` (masks, tables, target ids)
 * get none. The piece must compute the same function when run again: `replay` (when given) has its random state
 * set back to the forward pass's for the recomputation, and restored after it. Not tidied: call inside tf.tidy
 * or a gradient function as any op.
 */
export function recomputed(
  piece: (x: tf.Tensor, constants: tf.Tensor[]) => tf.Tensor,
  x: tf.Tensor, weights: tf.Variable[], constants: tf.Tensor[] = [], replay?: RandomReplay,
): tf.Tensor {
  const randomBefore = replay?.randomState;
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    save([x, ...constants]);
    return {
      value: piece(x, constants),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedX, ...savedConstants] = saved;
        const randomAfter = replay?.randomState;
        if (replay) replay.randomState = randomBefore!;
        try {
          return gradientsOf(() => piece(savedX, savedConstants), [savedX, ...weights], dy);
        } finally {
          if (replay) replay.randomState = randomAfter!;
        }
      },
    };
  }) as CustomGradFunc);
  return op(x, ...weights);
}

/**
 * Gradients of f() (weighted by `dy`) with respect to `xs`, zeros where f does not depend on one, from inside
 * another backward pass. tfjs keeps one tape per engine and a nested `gradients` call ends by clearing it, which
 * would lose the outer pass's tape (and its saved tensors); so the outer tape is set aside and put back. Pinned to
 * tfjs 4.22's engine (tests/model/recompute.test.ts checks gradients and tensor counts against the plain path).
 */
function gradientsOf(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const engine = tf.engine();
  if (engine.state.gradientDepth !== 0) throw new Error('recomputed: a recomputed piece cannot be differentiated twice (higher-order gradients)');
  const outerTape = engine.state.activeTape;
  engine.state.activeTape = [];
  try {
    const { value, grads } = engine.gradients(f, xs, dy, true);
    value.dispose();
    return grads.map((g, i) => g ?? tf.zerosLike(xs[i]));
  } finally {
    engine.state.activeTape = outerTape;
  }
}
