#!/usr/bin/env python3
"""PyTorch peer of `npm run bench:pretrained`: the same Hugging Face folder, the same figures, in float32 on the CPU.

  pretrained_peer.py DIR [--rank 16] [--train-tokens 256] [--sample-batch 8] [--new-tokens 64]
                         [--grpo-prompts 4] [--grpo-samples 4]

DIR holds config.json (model_type gpt2, llama or qwen2) and an F32 model.safetensors. The forwards follow the
transformers definitions (as bench/torch/hf_reference.py, here in float32 with a KV cache) with LoRA adapters
(PEFT's default targets: c_attn for GPT-2, q_proj and v_proj otherwise; alpha = 2 rank) on the frozen weights.
Measures: distillation train tokens/s (one row of --train-tokens, AdamW on the adapters, median of 2 steps after a
warm-up), KV-cache sampling tokens/s (--sample-batch rows, 8-token prompts, --new-tokens new, after a warm-up
generation), the wall time of one GRPO iteration (prompts x samples rows sampled, reference log-probs with the
adapters off, one update), and peak RSS. Prints one JSON object as its last line. Needs Debian's python3 with
python3-torch; nothing else.
"""
import argparse
import json
import math
import mmap
import os
import resource
import statistics
import struct
import time

import numpy as np
import torch


def read_f32_safetensors(path):
    """Every tensor of an F32 safetensors file as float32 torch tensors (one copy, no float64)."""
    with open(path, 'rb') as f:
        raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (size,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + size])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        if info['dtype'] != 'F32':
            raise ValueError(f'{path}: tensor {name} has dtype {info["dtype"]}; the peer reads F32')
        start, end = info['data_offsets']
        array = np.frombuffer(raw, dtype='<f4', count=(end - start) // 4, offset=8 + size + start)
        out[name] = torch.from_numpy(array.copy()).reshape(info['shape'])
    return out


class Peer:
    """A causal LM over HF weights with LoRA adapters; `forward(ids, cache, adapters)` returns logits [B, T, V]."""

    def __init__(self, config, weights, rank):
        self.gpt2 = config['model_type'] == 'gpt2'
        if self.gpt2:
            weights = {k[len('transformer.'):] if k.startswith('transformer.') else k: v for k, v in weights.items()}
            self.d, self.heads, self.layers = config['n_embd'], config['n_head'], config['n_layer']
            self.kv_heads, self.eps = self.heads, config.get('layer_norm_epsilon', 1e-5)
            targets = ['attn.c_attn']
        else:
            self.d, self.heads, self.layers = config['hidden_size'], config['num_attention_heads'], config['num_hidden_layers']
            self.kv_heads, self.eps = config.get('num_key_value_heads', self.heads), config.get('rms_norm_eps', 1e-6)
            self.theta = config.get('rope_theta', 10000.0)
            targets = ['self_attn.q_proj', 'self_attn.v_proj']
        self.w = weights
        self.head = self.d // self.heads
        self.scale = 2.0  # alpha / rank with alpha = 2 rank
        self.lora = {}
        generator = torch.Generator().manual_seed(0)
        for i in range(self.layers):
            for t in targets:
                name = (f'h.{i}.' if self.gpt2 else f'model.layers.{i}.') + t
                weight = weights[f'{name}.weight']
                fan_in, fan_out = (weight.shape[0], weight.shape[1]) if self.gpt2 else (weight.shape[1], weight.shape[0])
                bound = 1 / math.sqrt(fan_in)
                a = ((torch.rand(rank, fan_in, generator=generator) * 2 - 1) * bound).requires_grad_()
                b = torch.zeros(fan_out, rank).requires_grad_()
                self.lora[name] = (a, b)

    def parameters(self):
        return [p for pair in self.lora.values() for p in pair]

    def project(self, x, name, adapters):
        w = self.w[f'{name}.weight']
        y = x @ w if self.gpt2 else x @ w.T  # Conv1D stores [in, out], nn.Linear [out, in]
        bias = self.w.get(f'{name}.bias')
        if bias is not None:
            y = y + bias
        if adapters and name in self.lora:
            a, b = self.lora[name]
            y = y + (x @ a.T @ b.T) * self.scale
        return y

    def forward(self, ids, cache=None, adapters=True):
        batch, length = ids.shape
        past = 0 if cache is None or not cache else cache[0][0].shape[2]
        positions = torch.arange(past, past + length)
        w = self.w
        if self.gpt2:
            x = w['wte.weight'][ids] + w['wpe.weight'][positions]
        else:
            x = w['model.embed_tokens.weight'][ids]
            inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.head, 2, dtype=torch.float32) / self.head))
            freqs = positions[:, None].float() * inv_freq[None, :]
            emb = torch.cat([freqs, freqs], dim=-1)
            cos, sin = emb.cos(), emb.sin()

        def norm(x, name):
            if self.gpt2:
                return torch.nn.functional.layer_norm(x, (self.d,), w[f'{name}.weight'], w[f'{name}.bias'], self.eps)
            return w[f'{name}.weight'] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

        def rotate_half(t):
            half = t.shape[-1] // 2
            return torch.cat([-t[..., half:], t[..., :half]], dim=-1)

        new_cache = []
        for i in range(self.layers):
            p = f'h.{i}.' if self.gpt2 else f'model.layers.{i}.'
            h = norm(x, p + ('ln_1' if self.gpt2 else 'input_layernorm'))
            if self.gpt2:
                q, k, v = self.project(h, p + 'attn.c_attn', adapters).split(self.d, dim=-1)
            else:
                q, k, v = (self.project(h, p + f'self_attn.{n}_proj', adapters) for n in 'qkv')
            q = q.view(batch, length, self.heads, self.head).transpose(1, 2)
            k = k.view(batch, length, self.kv_heads, self.head).transpose(1, 2)
            v = v.view(batch, length, self.kv_heads, self.head).transpose(1, 2)
            if not self.gpt2:
                q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            if cache:
                k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
            new_cache.append((k, v))
            group = self.heads // self.kv_heads
            keys, values = (t.repeat_interleave(group, dim=1) for t in (k, v)) if group > 1 else (k, v)
            scores = q @ keys.transpose(-1, -2) / math.sqrt(self.head)
            total = past + length
            mask = torch.ones(length, total, dtype=torch.bool).tril(diagonal=past)
            probs = torch.softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=-1)
            attended = (probs @ values).transpose(1, 2).reshape(batch, length, self.d)
            x = x + self.project(attended, p + ('attn.c_proj' if self.gpt2 else 'self_attn.o_proj'), adapters)
            h = norm(x, p + ('ln_2' if self.gpt2 else 'post_attention_layernorm'))
            if self.gpt2:
                h = self.project(h, p + 'mlp.c_fc', adapters)
                inner = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
                x = x + self.project(inner, p + 'mlp.c_proj', adapters)
            else:
                gate = self.project(h, p + 'mlp.gate_proj', adapters)
                x = x + self.project(torch.nn.functional.silu(gate) * self.project(h, p + 'mlp.up_proj', adapters), p + 'mlp.down_proj', adapters)
        x = norm(x, 'ln_f' if self.gpt2 else 'model.norm')
        embedding = w['wte.weight'] if self.gpt2 else w['model.embed_tokens.weight']
        head = w.get('lm_head.weight', embedding)
        return x @ head.T, new_cache

    @torch.no_grad()
    def sample(self, prompts, new_tokens, generator):
        """Temperature-1 sampling with the KV cache; returns the new ids [B, new_tokens]."""
        logits, cache = self.forward(prompts, [])
        out = []
        for _ in range(new_tokens):
            probs = torch.softmax(logits[:, -1], dim=-1)
            token = torch.multinomial(probs, 1, generator=generator)
            out.append(token)
            logits, cache = self.forward(token, cache)
        return torch.cat(out, dim=1)


def token_logprobs(logits, ids):
    """log p(ids[:, t+1] | ids[:, :t+1]) from logits [B, T, V] -> [B, T-1]."""
    return torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('dir')
    parser.add_argument('--rank', type=int, default=16)
    parser.add_argument('--train-tokens', type=int, default=256)
    parser.add_argument('--sample-batch', type=int, default=8)
    parser.add_argument('--new-tokens', type=int, default=64)
    parser.add_argument('--grpo-prompts', type=int, default=4)
    parser.add_argument('--grpo-samples', type=int, default=4)
    args = parser.parse_args()
    with open(os.path.join(args.dir, 'config.json')) as f:
        config = json.load(f)
    model = Peer(config, read_f32_safetensors(os.path.join(args.dir, 'model.safetensors')), args.rank)
    vocab = config['vocab_size']
    generator = torch.Generator().manual_seed(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    row = torch.randint(0, vocab - 1, (1, args.train_tokens), generator=generator)
    times = []
    for step in range(3):
        start = time.perf_counter()
        logits, _ = model.forward(row)
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], row[0, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step > 0:
            times.append(time.perf_counter() - start)
    train = args.train_tokens / statistics.median(times)

    prompts = torch.randint(0, vocab - 1, (args.sample_batch, 8), generator=generator)
    model.sample(prompts, args.new_tokens, generator)
    start = time.perf_counter()
    model.sample(prompts, args.new_tokens, generator)
    sample = args.sample_batch * args.new_tokens / (time.perf_counter() - start)

    # One GRPO iteration: sample k per prompt, score, group-normalised advantages, reference log-probs without the
    # adapters, one clipped-ratio update with a KL penalty (k3 estimator) to the reference.
    start = time.perf_counter()
    rows = args.grpo_prompts * args.grpo_samples
    prompt_ids = torch.randint(0, vocab - 1, (args.grpo_prompts, 8), generator=generator).repeat_interleave(args.grpo_samples, dim=0)
    new = model.sample(prompt_ids, args.new_tokens, generator)
    ids = torch.cat([prompt_ids, new], dim=1)
    scores = (new % 7 == 0).float().mean(dim=1).view(args.grpo_prompts, args.grpo_samples)
    advantages = ((scores - scores.mean(1, keepdim=True)) / (scores.std(1, keepdim=True) + 1e-4)).view(rows, 1)
    with torch.no_grad():
        old = token_logprobs(model.forward(ids)[0], ids)
        ref = token_logprobs(model.forward(ids, adapters=False)[0], ids)
    mask = torch.zeros_like(old)
    mask[:, 7:] = 1
    logp = token_logprobs(model.forward(ids)[0], ids)
    ratio = torch.exp(logp - old)
    policy = -torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages)
    kl = torch.exp(ref - logp) - (ref - logp) - 1
    loss = ((policy + 0.05 * kl) * mask).sum() / mask.sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    grpo = time.perf_counter() - start

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'trainTokPerS': train, 'sampleTokPerS': sample, 'grpoIterationS': grpo, 'peakRssMiB': round(peak),
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
