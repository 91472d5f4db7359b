import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmKernel, wasmOps } from './wasm-ops';

/**
 * `UnsortedSegmentSum` for the wasm backend, which does not ship one. It is the gradient of `tf.gather`
 * (an embedding lookup), so without it no model with embeddings trains on wasm.
 *
 * out[s, ...] = sum over i with segmentIds[i] = s of x[i, ...], with out shaped
 * `[numSegments, ...x.shape.slice(segmentIds.rank)]`. Built on the wasm `ScatterNd` kernel, which adds
 * updates that land on the same index. Ids are checked first: ScatterNd does not bound-check its writes.
 */
export function unsortedSegmentSumConfig(): tf.KernelConfig {
  const scatterNd = wasmKernel('ScatterNd');
  return {
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: anyBackend, attrs }) => {
      const backend = anyBackend as BackendWasm;
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
      const ids = backend.readSync(segmentIds.dataId) as Int32Array;
      for (let i = 0; i < ids.length; i++) {
        if (!(ids[i] >= 0 && ids[i] < numSegments)) {
          throw new Error(`UnsortedSegmentSum: segmentIds[${i}] = ${ids[i]} is outside [0, ${numSegments})`);
        }
      }
      const ops = wasmOps(backend);
      const innerShape = x.shape.slice(segmentIds.shape.length);
      const innerSize = innerShape.reduce((p, d) => p * d, 1);
      const indices = ops.reshape(segmentIds, [ids.length, 1]);
      const updates = ops.reshape(x, [ids.length, innerSize]);
      try {
        const summed = scatterNd.kernelFunc({
          inputs: { indices, updates }, backend, attrs: { shape: [numSegments, innerSize] },
        }) as tf.TensorInfo;
        const out = ops.reshape(summed, [numSegments, ...innerShape]);
        ops.release(summed);
        return out;
      } finally {
        ops.release(indices);
        ops.release(updates);
      }
    },
  };
}
