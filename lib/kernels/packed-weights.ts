import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** What the wasm backend keeps per buffer (its `dataIdMap` entries) and the module calls used here. */
interface WasmInternals {
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number; refCount: number } | undefined };
  wasm: { tfjs: { disposeData(id: number): void; registerTensor(id: number, size: number, memoryOffset: number): void } };
}

/** Bytes of a float32 tensor's values. */
const float32Bytes = (t: tf.TensorInfo): number => 4 * t.shape.reduce((p, d) => p * d, 1);

/**
 * XNNPACK packs the right operand of each fully-connected product into a buffer of its own (about the operand's
 * size), and tfjs-backend-wasm 4.22 keeps that operator, packed copy included, for as long as the operand's buffer
 * lives: every weight matrix of a model is held twice in the heap once it has been used. That second copy is
 * what stops a 0.5B model from fitting the 4 GiB heap. This keeps packed copies of persistent operands (weights,
 * not a product's temporaries) up to `budget` bytes, first come first kept (the layers run in the same order on
 * every pass, so evicting the oldest would evict each one before its next use); an operand past the budget is
 * packed for its product and its packed copy dropped right after, which costs a repack (about 9 ns a value) on
 * its next use and changes no result. The default budget is unlimited: the backend's own behaviour.
 */
export class PackedWeights {
  /** Bytes of operands whose packed copies may be kept. */
  budget = Number.POSITIVE_INFINITY;
  /** Operands whose packed copies are kept, by data id, with their bytes. */
  private readonly kept = new Map<tf.DataId, number>();
  private keptBytes = 0;

  /** Whether every packed copy is kept (the budget is unlimited: the backend's own behaviour). */
  get keepsAll(): boolean {
    return this.budget === Number.POSITIVE_INFINITY;
  }

  /** Bytes of the operands whose packed copies are held now. */
  get held(): number {
    return this.keptBytes;
  }

  /**
   * Keeps `tensor`'s packed copy from its first product on, ahead of the first-come ones (its bytes count against
   * the budget): an operand packed anew on every use would need a contiguous block that large each time, which a
   * fragmented heap may no longer have (a tied head: XNNPACK failed to pack Qwen2.5-0.5B's 544 MiB embedding in
   * the GRPO update after training and sampling).
   */
  keep(tensor: tf.TensorInfo): void {
    if (this.kept.has(tensor.dataId)) return;
    const bytes = float32Bytes(tensor);
    this.kept.set(tensor.dataId, bytes);
    this.keptBytes += bytes;
  }

  /** After a product whose right operand was the persistent tensor `b`: keep its packed copy, or drop it. */
  afterProduct(backend: BackendWasm, b: tf.TensorInfo): void {
    if (this.keepsAll || this.kept.has(b.dataId)) return;
    this.releaseOrphans(backend);
    const bytes = float32Bytes(b);
    if (this.keptBytes + bytes <= this.budget) {
      this.kept.set(b.dataId, bytes);
      this.keptBytes += bytes;
      return;
    }
    // Disposing a buffer's id in the module deletes its operators (the packed copies) and its registration;
    // registering it again at the same offset restores the tensor, whose values never moved.
    const internals = backend as unknown as WasmInternals;
    const data = internals.dataIdMap.get(b.dataId)!;
    internals.wasm.tfjs.disposeData(data.id);
    internals.wasm.tfjs.registerTensor(data.id, bytes / 4, data.memoryOffset);
  }

  /** Forgets every kept operand (their packed copies stay until their tensors are disposed). */
  clear(): void {
    this.kept.clear();
    this.keptBytes = 0;
  }

  private releaseOrphans(backend: BackendWasm): void {
    for (const [dataId, bytes] of this.kept) {
      if (backend.refCount(dataId) === 0) {
        this.kept.delete(dataId);
        this.keptBytes -= bytes;
      }
    }
  }
}
