#!/usr/bin/env python3
"""PyTorch peer of bench/model.ts: the same GPT-2-layout model, timed the same way, for side-by-side ratios.

Runs on Debian's python3 with python3-torch (1.13) and, for a fast BLAS, libopenblas0-pthread. `npm run bench:model
-- --peer` starts it as a child process and sends one JSON request per line on stdin; each answer is one JSON line
on stdout. Requests run one at a time, so the two sides never compute at once (the bench alternates them):

  {"config": "S", "task": "train", "steps": 6}       -> {"tokPerS": ..., "tokPerCpuS": ..., "tokens": ...}
  {"config": "S", "task": "sample", "runs": 3}       -> the same, for KV-cache sampling (batch 8, 64 new tokens)

The first request of a (config, task) pair also does the warm-up (one untimed training step; one untimed
generation). Run by hand it measures every config once and prints the answers:

  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch/peer_model.py --torch-threads 1 --once [--only S]

Thread setting: torch's own pool (`--torch-threads`, intra-op, also OpenMP) and OpenBLAS's (the environment
variable OPENBLAS_NUM_THREADS, read when torch loads). The bench's default (its --peer-threads) is the setting that
was fastest on the shared 2-core machine: torch 1 thread, OpenBLAS 1.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The bench:model shapes (bench/model.ts CONFIGS) and GPT-2 small's shape; batch/microBatch as there.
CONFIGS = {
    "S": dict(vocab=512, d=128, layers=4, heads=4, seq=128, batch=16, micro_batch=16),
    "M": dict(vocab=8192, d=384, layers=6, heads=6, seq=256, batch=8, micro_batch=4),
    "gpt2-124m": dict(vocab=50257, d=768, layers=12, heads=12, seq=1024, batch=4, micro_batch=4),
}
SAMPLE_BATCH = 8
SAMPLE_NEW_TOKENS = 64
PROMPT_LENGTH = 25  # the bench's prompts ("Question i: what is i + i?") are 25 characters, one token each


class Block(nn.Module):
    """Pre-norm GPT-2 block: x + attn(ln1(x)), then x + mlp(ln2(x)); fused q|k|v projection, tanh GELU."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc_in = nn.Linear(d, 4 * d)
        self.fc_out = nn.Linear(4 * d, d)

    def attend(self, x, cache, pos):
        B, T, C = x.shape
        hs = C // self.heads
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, hs).transpose(1, 2) for t in (q, k, v))  # [B, H, T, hs]
        if cache is not None:  # write this call's keys/values into the preallocated [B, H, seq, hs] buffers
            cache[0][:, :, pos:pos + T] = k
            cache[1][:, :, pos:pos + T] = v
            k, v = cache[0][:, :, :pos + T], cache[1][:, :, :pos + T]
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # [B, H, T, past + T]
        if T > 1:
            causal = torch.ones(T, pos + T, dtype=torch.bool, device=x.device).tril(diagonal=pos)
            scores = scores.masked_fill(~causal, float("-inf"))
        out = F.softmax(scores, dim=-1) @ v  # [B, H, T, hs]
        return self.proj(out.transpose(1, 2).reshape(B, T, C))

    def forward(self, x, cache=None, pos=0):
        x = x + self.attend(self.ln1(x), cache, pos)
        return x + self.fc_out(F.gelu(self.fc_in(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    """Token + learned position embeddings, pre-norm blocks, final LayerNorm, output tied to the token embedding."""

    def __init__(self, vocab, d, layers, heads, seq, **_):
        super().__init__()
        self.seq = seq
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        for name, p in self.named_parameters():  # GPT-2 init, as lib/model/weights.ts
            if p.dim() > 1:
                residual = name.endswith("proj.weight") or name.endswith("fc_out.weight")
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers) if residual else 0.02)

    def forward(self, ids, caches=None, pos=0, last_only=False):
        B, T = ids.shape
        x = self.tok_emb(ids) + self.pos_emb(torch.arange(pos, pos + T, device=ids.device))  # [B, T, d]
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None, pos)
        x = self.ln_f(x[:, -1:] if last_only else x)
        return x @ self.tok_emb.weight.t()  # [B, T, V]


class Peer:
    def __init__(self):
        self.models = {}
        self.optimizers = {}
        self.warm = set()

    def model(self, name):
        if name not in self.models:
            torch.manual_seed(1)
            self.models[name] = GPT(**CONFIGS[name])
        return self.models[name]

    def train_step(self, name, gen):
        cfg, model = CONFIGS[name], self.model(name)
        if name not in self.optimizers:
            self.optimizers[name] = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        opt = self.optimizers[name]
        ids = torch.randint(0, cfg["vocab"], (cfg["batch"], cfg["seq"]), generator=gen)
        opt.zero_grad(set_to_none=True)
        parts = cfg["batch"] // cfg["micro_batch"]
        for chunk in ids.split(cfg["micro_batch"]):
            logits = model(chunk[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1)) / parts
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return cfg["batch"] * cfg["seq"]

    @torch.inference_mode()
    def generate(self, name, gen):
        cfg, model = CONFIGS[name], self.model(name)
        hs = cfg["d"] // cfg["heads"]
        caches = [(torch.empty(SAMPLE_BATCH, cfg["heads"], cfg["seq"], hs), torch.empty(SAMPLE_BATCH, cfg["heads"], cfg["seq"], hs))
                  for _ in range(cfg["layers"])]
        ids = torch.randint(4, cfg["vocab"], (SAMPLE_BATCH, PROMPT_LENGTH), generator=gen)
        logits = model(ids, caches, 0, last_only=True)
        pos = PROMPT_LENGTH
        for _ in range(SAMPLE_NEW_TOKENS):
            probs = F.softmax(logits[:, -1], dim=-1)
            token = torch.multinomial(probs, 1, generator=gen)  # [B, 1]
            logits = model(token, caches, pos, last_only=True)
            pos += 1
        return SAMPLE_BATCH * SAMPLE_NEW_TOKENS

    def run(self, request):
        name, task = request["config"], request["task"]
        if name not in CONFIGS:
            raise ValueError(f'unknown config "{name}" (known: {", ".join(CONFIGS)})')
        gen = torch.Generator().manual_seed(int(request.get("seed", 1)))
        if task == "train":
            work, count = (lambda: self.train_step(name, gen)), int(request.get("steps", 1))
        elif task == "sample":
            work, count = (lambda: self.generate(name, gen)), int(request.get("runs", 1))
        else:
            raise ValueError(f'unknown task "{task}" (train or sample)')
        if (name, task) not in self.warm:
            work()
            self.warm.add((name, task))
        cpu, wall = time.process_time(), time.perf_counter()
        tokens = sum(work() for _ in range(count))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"config": name, "task": task, "tokens": tokens, "tokPerS": tokens / wall, "tokPerCpuS": tokens / cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--once", action="store_true", help="measure S training and sampling and gpt2-124m sampling once, and exit")
    parser.add_argument("--only", choices=sorted(CONFIGS), help="with --once: only this config")
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    peer = Peer()
    hello = {"ready": True, "torch": torch.__version__, "torchThreads": torch.get_num_threads(), "blas": blas_name()}
    if args.once:
        print(json.dumps(hello), flush=True)
        for request in [{"config": "S", "task": "train", "steps": 6}, {"config": "S", "task": "sample", "runs": 3},
                        {"config": "gpt2-124m", "task": "sample", "runs": 1}]:
            if args.only and request["config"] != args.only:
                continue
            print(json.dumps(peer.run(request)), flush=True)
        return
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = peer.run(json.loads(line))
        except (ValueError, KeyError, json.JSONDecodeError) as err:
            answer = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(answer), flush=True)


def blas_name():
    """Which BLAS torch's process loaded (from /proc/self/maps; 'unknown' off Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line}
        return ", ".join(sorted(libs)) or "none loaded"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
