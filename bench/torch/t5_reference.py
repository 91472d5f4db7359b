#!/usr/bin/env python3
"""Tiny T5 checkpoints in Hugging Face's layout, and the logits of an independent PyTorch forward.

The forward is written from transformers' modeling_t5 (T5LayerNorm, T5Attention with compute_bias and
_relative_position_bucket, T5DenseActDense / T5DenseGatedActDense with NewGELUActivation, T5Stack,
T5ForConditionalGeneration's d_model^-0.5 scaling of a tied head), in plain PyTorch: no transformers package.

  write:  t5_reference.py write OUT_DIR
          -> OUT_DIR/t5-tiny     (v1.1 / Flan-T5 layout: gated-gelu, untied lm_head)
             OUT_DIR/t5-tiny-v1  (v1.0 layout: relu, tied head)
          each with config.json (HF field names), model.safetensors (HF key names, F32) and reference.json (inputs,
          logits, the masked cross-entropy of the labels and its gradient for every tensor, by HF name).
  check:  t5_reference.py check FOLDER REFERENCE_JSON
          -> runs this forward on FOLDER's weights (e.g. a folder exported by the TypeScript library) with the inputs
             of REFERENCE_JSON and exits 1 unless the logits match its logits to 1e-4.
"""
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from hf_reference import read_safetensors, write_safetensors  # the same folder: safetensors by hand, F32/F16/BF16

# ---- the forward, from modeling_t5 ----


def rms_norm(x, weight, eps):
    """T5LayerNorm: no mean subtraction, no bias; variance in float32."""
    variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """T5Attention._relative_position_bucket."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def compute_bias(table, query_length, key_length, bidirectional, config):
    """T5Attention.compute_bias: [1, heads, query_length, key_length]."""
    context_position = torch.arange(query_length, dtype=torch.long)[:, None]
    memory_position = torch.arange(key_length, dtype=torch.long)[None, :]
    buckets = relative_position_bucket(
        memory_position - context_position, bidirectional, config["relative_attention_num_buckets"], config["relative_attention_max_distance"]
    )
    return table[buckets].permute([2, 0, 1]).unsqueeze(0)


def attention(w, prefix, hidden, keys_from, position_bias, config):
    """T5Attention: no 1/sqrt(d) scaling; position_bias already holds the mask."""
    heads, d_kv = config["num_heads"], config["d_kv"]
    batch = hidden.shape[0]

    def shape(x):
        return x.view(batch, -1, heads, d_kv).transpose(1, 2)

    q = shape(hidden @ w[prefix + "q.weight"].T)
    k = shape(keys_from @ w[prefix + "k.weight"].T)
    v = shape(keys_from @ w[prefix + "v.weight"].T)
    scores = torch.matmul(q, k.transpose(3, 2)) + position_bias
    probs = F.softmax(scores.float(), dim=-1)
    out = torch.matmul(probs, v).transpose(1, 2).contiguous().view(batch, -1, heads * d_kv)
    return out @ w[prefix + "o.weight"].T


def new_gelu(x):
    """NewGELUActivation (gelu_new)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def feed_forward(w, prefix, x, config):
    if config["feed_forward_proj"] == "relu":
        return F.relu(x @ w[prefix + "wi.weight"].T) @ w[prefix + "wo.weight"].T
    return (new_gelu(x @ w[prefix + "wi_0.weight"].T) * (x @ w[prefix + "wi_1.weight"].T)) @ w[prefix + "wo.weight"].T


def extended_mask(mask):
    """(1 - mask) * finfo.min, broadcast over heads and queries: [B, 1, 1, S]."""
    return (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min


def forward(w, config, source_ids, source_mask, decoder_ids):
    eps = config["layer_norm_epsilon"]
    # encoder
    x = w["shared.weight"][source_ids]
    s = source_ids.shape[1]
    bias = compute_bias(w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], s, s, True, config) + extended_mask(source_mask)
    for i in range(config["num_layers"]):
        p = f"encoder.block.{i}.layer."
        h = rms_norm(x, w[p + "0.layer_norm.weight"], eps)
        x = x + attention(w, p + "0.SelfAttention.", h, h, bias, config)
        x = x + feed_forward(w, p + "1.DenseReluDense.", rms_norm(x, w[p + "1.layer_norm.weight"], eps), config)
    encoded = rms_norm(x, w["encoder.final_layer_norm.weight"], eps)
    # decoder
    y = w["shared.weight"][decoder_ids]
    t = decoder_ids.shape[1]
    causal = torch.tril(torch.ones(t, t))[None, None, :, :]
    self_bias = compute_bias(w["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], t, t, False, config) + (1.0 - causal) * torch.finfo(torch.float32).min
    cross_bias = extended_mask(source_mask)
    for i in range(config["num_decoder_layers"]):
        p = f"decoder.block.{i}.layer."
        h = rms_norm(y, w[p + "0.layer_norm.weight"], eps)
        y = y + attention(w, p + "0.SelfAttention.", h, h, self_bias, config)
        y = y + attention(w, p + "1.EncDecAttention.", rms_norm(y, w[p + "1.layer_norm.weight"], eps), encoded, cross_bias, config)
        y = y + feed_forward(w, p + "2.DenseReluDense.", rms_norm(y, w[p + "2.layer_norm.weight"], eps), config)
    out = rms_norm(y, w["decoder.final_layer_norm.weight"], eps)
    if config["tie_word_embeddings"]:
        return (out * config["d_model"] ** -0.5) @ w["shared.weight"].T
    return out @ w["lm_head.weight"].T


# ---- tiny checkpoints ----


def tiny_config(v1_0):
    return {
        "model_type": "t5",
        "architectures": ["T5ForConditionalGeneration"],
        "is_encoder_decoder": True,
        "vocab_size": 40,
        "d_model": 16,
        "d_kv": 8,
        "d_ff": 20,
        "num_heads": 3,
        "num_layers": 2,
        "num_decoder_layers": 2 if v1_0 else 3,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 20,
        "layer_norm_epsilon": 1e-6,
        "feed_forward_proj": "relu" if v1_0 else "gated-gelu",
        "tie_word_embeddings": v1_0,
        "dropout_rate": 0.1,
        "initializer_factor": 1.0,
        "decoder_start_token_id": 0,
        "pad_token_id": 0,
        "eos_token_id": 1,
    }


def random_weights(config, generator):
    d, inner, ff, vocab = config["d_model"], config["num_heads"] * config["d_kv"], config["d_ff"], config["vocab_size"]
    shapes = {"shared.weight": [vocab, d]}

    def block(p, kinds):
        for j, kind in enumerate(kinds):
            q = f"{p}layer.{j}."
            shapes[q + "layer_norm.weight"] = [d]
            if kind == "ff":
                names = ["wi"] if config["feed_forward_proj"] == "relu" else ["wi_0", "wi_1"]
                for n in names:
                    shapes[f"{q}DenseReluDense.{n}.weight"] = [ff, d]
                shapes[q + "DenseReluDense.wo.weight"] = [d, ff]
            else:
                for n in "qkv":
                    shapes[f"{q}{kind}.{n}.weight"] = [inner, d]
                shapes[f"{q}{kind}.o.weight"] = [d, inner]

    for stack, count, kinds in [("encoder", config["num_layers"], ["SelfAttention", "ff"]), ("decoder", config["num_decoder_layers"], ["SelfAttention", "EncDecAttention", "ff"])]:
        for i in range(count):
            block(f"{stack}.block.{i}.", kinds)
        shapes[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = [config["relative_attention_num_buckets"], config["num_heads"]]
        shapes[f"{stack}.final_layer_norm.weight"] = [d]
    if not config["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [vocab, d]
    weights = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if name.endswith("layer_norm.weight"):
            # gains around 1, not all 1, so a swapped norm shows
            weights[name] = 1.0 + 0.2 * torch.randn(shape, generator=generator)
        elif name == "shared.weight" or name == "lm_head.weight":
            weights[name] = torch.randn(shape, generator=generator)
        else:
            weights[name] = torch.randn(shape, generator=generator) * (0.8 / math.sqrt(shape[-1]))
    return weights


def write(out_dir):
    for folder, v1_0, seed in [("t5-tiny", False, 0), ("t5-tiny-v1", True, 1)]:
        config = tiny_config(v1_0)
        generator = torch.Generator().manual_seed(seed)
        weights = random_weights(config, generator)
        dest = Path(out_dir) / folder
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        write_safetensors(dest / "model.safetensors", weights)
        # sources of 11 and 8 tokens (right-padded), targets of 9: offsets reach the log-spaced buckets
        source_ids = torch.randint(2, config["vocab_size"], (2, 11), generator=generator)
        source_mask = torch.tensor([[1] * 11, [1] * 8 + [0] * 3])
        source_ids = source_ids * source_mask
        labels = torch.randint(2, config["vocab_size"], (2, 9), generator=generator)
        labels[1, 6:] = -100  # the second target is 6 tokens long
        decoder_ids = torch.cat([torch.full((2, 1), config["decoder_start_token_id"]), labels[:, :-1]], 1)
        decoder_ids = decoder_ids.masked_fill(decoder_ids == -100, config["pad_token_id"])  # T5's _shift_right
        params = {name: t.clone().requires_grad_(True) for name, t in weights.items()}
        logits = forward(params, config, source_ids, source_mask, decoder_ids)
        loss = F.cross_entropy(logits.reshape(-1, config["vocab_size"]), labels.reshape(-1), ignore_index=-100)
        loss.backward()
        reference = {
            "source_ids": source_ids.tolist(),
            "source_mask": source_mask.tolist(),
            "decoder_ids": decoder_ids.tolist(),
            "labels": labels.tolist(),
            "logits_shape": list(logits.shape),
            "logits": [round(float(v), 7) for v in logits.detach().reshape(-1)],
            "loss": float(loss),
            "gradients": {name: [round(float(v), 8) for v in p.grad.reshape(-1)] for name, p in sorted(params.items())},
        }
        (dest / "reference.json").write_text(json.dumps(reference) + "\n")
        print(f"{dest}: {sum(t.numel() for t in weights.values())} parameters, loss {float(loss):.6f}")


def check(folder, reference_path):
    config = json.loads((Path(folder) / "config.json").read_text())
    config.setdefault("num_decoder_layers", config["num_layers"])
    config.setdefault("tie_word_embeddings", True)
    weights = {name: t.float() for name, t in read_safetensors(Path(folder) / "model.safetensors").items()}
    reference = json.loads(Path(reference_path).read_text())
    with torch.no_grad():
        logits = forward(weights, config, torch.tensor(reference["source_ids"]), torch.tensor(reference["source_mask"]), torch.tensor(reference["decoder_ids"]))
    worst = (logits.reshape(-1) - torch.tensor(reference["logits"])).abs().max().item()
    print(f"{folder}: max |logit difference| {worst:.3g}")
    if not worst <= 1e-4:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
