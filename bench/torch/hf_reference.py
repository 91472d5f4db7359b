#!/usr/bin/env python3
"""Independent reference for the Hugging Face checkpoint layouts the project reads (GPT-2, Llama, Qwen2).

Plain PyTorch, written from the transformers definitions (modeling_gpt2.py, modeling_llama.py, modeling_qwen2.py);
no `transformers` package needed. Run with Debian's python3 and python3-torch:

  hf_reference.py fixtures OUT_DIR        tiny random-weight HF folders (config.json, safetensors, tokenizer files)
                                          and reference.json (input ids + this file's logits) under OUT_DIR/<name>/
  hf_reference.py check DIR REFERENCE     logits of the HF folder DIR on REFERENCE's ids against REFERENCE's logits;
                                          prints the largest difference, exit 1 above --tolerance (default 1e-4)

Weights are read and written as safetensors by hand (8-byte little-endian header length, JSON header, raw
little-endian data), in F32, F16 or BF16; sharded folders through model.safetensors.index.json.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

# --- safetensors --------------------------------------------------------------------------------------------

DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}


def tensor_bytes(t):
    """Raw little-endian bytes of a tensor (BF16 through its 16-bit pattern: numpy has no bfloat16)."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype('<i2').tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()


def write_safetensors(path, tensors, dtype='F32', metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = tensor_bytes(t.to(DTYPES[dtype]))
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header['__metadata__'] = metadata or {'format': 'pt'}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (size,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + size])
    body = raw[8 + size:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        start, end = info['data_offsets']
        chunk = body[start:end]
        if info['dtype'] == 'BF16':
            bits = torch.from_numpy(np.frombuffer(chunk, dtype='<i2').copy())
            t = bits.view(torch.bfloat16)
        elif info['dtype'] == 'F16':
            t = torch.from_numpy(np.frombuffer(chunk, dtype='<f2').copy())
        elif info['dtype'] == 'F32':
            t = torch.from_numpy(np.frombuffer(chunk, dtype='<f4').copy())
        else:
            raise ValueError(f'{path}: tensor {name} has dtype {info["dtype"]}')
        out[name] = t.reshape(info['shape']).to(torch.float64)
    return out


def read_folder(folder):
    index = os.path.join(folder, 'model.safetensors.index.json')
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)['weight_map'].values()))
    else:
        files = ['model.safetensors']
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(folder, name)))
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    return config, weights

# --- reference forwards (float64) ---------------------------------------------------------------------------


def causal_softmax(scores):
    """scores [B, H, T, T]; masked as HF does with the dtype's smallest value, then softmax over keys."""
    length = scores.shape[-1]
    mask = torch.ones(length, length, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~mask, torch.finfo(scores.dtype).min), dim=-1)


def gpt2_forward(config, w, ids):
    """modeling_gpt2: wte + wpe, blocks of LayerNorm -> Conv1D attention -> LayerNorm -> Conv1D MLP (gelu_new)."""
    w = {k[len('transformer.'):] if k.startswith('transformer.') else k: v for k, v in w.items()}
    eps, heads = config.get('layer_norm_epsilon', 1e-5), config['n_head']
    batch, length = ids.shape
    d = config['n_embd']
    head = d // heads
    x = w['wte.weight'][ids] + w['wpe.weight'][torch.arange(length)]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (d,), w[f'{name}.weight'], w[f'{name}.bias'], eps)

    def conv1d(x, name):  # Conv1D stores its weight [in, out]: x @ W + b
        return x @ w[f'{name}.weight'] + w[f'{name}.bias']

    for i in range(config['n_layer']):
        p = f'h.{i}.'
        q, k, v = conv1d(ln(x, p + 'ln_1'), p + 'attn.c_attn').split(d, dim=-1)
        q, k, v = (t.view(batch, length, heads, head).transpose(1, 2) for t in (q, k, v))
        probs = causal_softmax(q @ k.transpose(-1, -2) / math.sqrt(head))
        attended = (probs @ v).transpose(1, 2).reshape(batch, length, d)
        x = x + conv1d(attended, p + 'attn.c_proj')
        h = conv1d(ln(x, p + 'ln_2'), p + 'mlp.c_fc')
        gelu_new = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        x = x + conv1d(gelu_new, p + 'mlp.c_proj')
    x = ln(x, 'ln_f')
    head_weight = w.get('lm_head.weight', w['wte.weight'])
    return x @ head_weight.T


def llama_forward(config, w, ids):
    """modeling_llama / modeling_qwen2: RMSNorm, rotary (rotate_half), grouped-query attention (repeat_kv), SwiGLU.
    Qwen2 differs only in the biases of q_proj, k_proj and v_proj (read when present)."""
    eps = config.get('rms_norm_eps', 1e-6)
    heads = config['num_attention_heads']
    kv_heads = config.get('num_key_value_heads', heads)
    d = config['hidden_size']
    head = d // heads
    batch, length = ids.shape
    theta = config.get('rope_theta', 10000.0)
    inv_freq = 1.0 / (theta ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
    freqs = torch.arange(length, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat([-x[..., half:], x[..., :half]], dim=-1)

    def rms(x, name):
        return w[f'{name}.weight'] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def linear(x, name):  # nn.Linear stores its weight [out, in]: x @ W^T (+ b)
        y = x @ w[f'{name}.weight'].T
        bias = w.get(f'{name}.bias')
        return y if bias is None else y + bias

    x = w['model.embed_tokens.weight'][ids]
    for i in range(config['num_hidden_layers']):
        p = f'model.layers.{i}.'
        h = rms(x, p + 'input_layernorm')
        q = linear(h, p + 'self_attn.q_proj').view(batch, length, heads, head).transpose(1, 2)
        k = linear(h, p + 'self_attn.k_proj').view(batch, length, kv_heads, head).transpose(1, 2)
        v = linear(h, p + 'self_attn.v_proj').view(batch, length, kv_heads, head).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = (t.repeat_interleave(heads // kv_heads, dim=1) for t in (k, v))  # repeat_kv
        probs = causal_softmax(q @ k.transpose(-1, -2) / math.sqrt(head))
        attended = (probs @ v).transpose(1, 2).reshape(batch, length, d)
        x = x + linear(attended, p + 'self_attn.o_proj')
        h = rms(x, p + 'post_attention_layernorm')
        gate = linear(h, p + 'mlp.gate_proj')
        x = x + linear(torch.nn.functional.silu(gate) * linear(h, p + 'mlp.up_proj'), p + 'mlp.down_proj')
    x = rms(x, 'model.norm')
    head_weight = w['model.embed_tokens.weight'] if config.get('tie_word_embeddings', False) else w['lm_head.weight']
    return x @ head_weight.T


FORWARDS = {'gpt2': gpt2_forward, 'llama': llama_forward, 'mistral': llama_forward, 'qwen2': llama_forward}


def logits_of(folder, ids):
    config, weights = read_folder(folder)
    if config['model_type'] not in FORWARDS:
        raise SystemExit(f'{folder}/config.json: model_type {config["model_type"]!r} has no reference forward')
    with torch.no_grad():
        return FORWARDS[config['model_type']](config, weights, torch.tensor(ids))

# --- fixtures -----------------------------------------------------------------------------------------------


def words_tokenizer(vocab_size, specials):
    """A tokenizer.json the project and HF tokenizers read: BPE without merges over single characters (letters,
    digits, punctuation), with `specials` (name -> id) as added special tokens."""
    letters = [chr(c) for c in range(ord('a'), ord('z') + 1)] + [chr(c) for c in range(ord('A'), ord('Z') + 1)]
    letters += [str(d) for d in range(10)] + list(' .?,!:;\'"()-#>[]+=*/\n')
    plain = vocab_size - len(specials)
    vocab = {}
    for i in range(plain):
        vocab[letters[i] if i < len(letters) else f'<unused{i}>'] = i
    for name, at in specials.items():
        vocab[name] = at
    added = [{'id': at, 'content': name, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False,
              'special': True} for name, at in specials.items()]
    return {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added, 'normalizer': None,
        'pre_tokenizer': None, 'post_processor': None, 'decoder': {'type': 'Fuse'},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
                  'vocab': vocab, 'merges': []},
    }


# Qwen2-Instruct's chat template (ChatML), as its tokenizer_config.json ships it.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def random_weights(shapes, generator):
    out = {}
    for name, shape in shapes.items():
        if name.endswith('norm.weight') or '.ln_' in name and name.endswith('.weight') or name == 'ln_f.weight':
            out[name] = 1 + 0.1 * torch.randn(shape, generator=generator, dtype=torch.float64)
        else:
            out[name] = 0.2 * torch.randn(shape, generator=generator, dtype=torch.float64)
    return out


def gpt2_fixture(generator, tied=True):
    V, d, L, T, ff = 40, 16, 2, 16, 32
    config = {'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'], 'vocab_size': V, 'n_embd': d, 'n_layer': L,
              'n_head': 4, 'n_positions': T, 'n_ctx': T, 'n_inner': ff, 'layer_norm_epsilon': 1e-5,
              'activation_function': 'gelu_new', 'bos_token_id': V - 1, 'eos_token_id': V - 1,
              'tie_word_embeddings': tied}
    shapes = {'wte.weight': [V, d], 'wpe.weight': [T, d]}
    for i in range(L):
        p = f'h.{i}.'
        shapes.update({p + 'ln_1.weight': [d], p + 'ln_1.bias': [d], p + 'attn.c_attn.weight': [d, 3 * d],
                       p + 'attn.c_attn.bias': [3 * d], p + 'attn.c_proj.weight': [d, d], p + 'attn.c_proj.bias': [d],
                       p + 'ln_2.weight': [d], p + 'ln_2.bias': [d], p + 'mlp.c_fc.weight': [d, ff],
                       p + 'mlp.c_fc.bias': [ff], p + 'mlp.c_proj.weight': [ff, d], p + 'mlp.c_proj.bias': [d]})
    shapes.update({'ln_f.weight': [d], 'ln_f.bias': [d]})
    weights = {'transformer.' + k: v for k, v in random_weights(shapes, generator).items()}
    if not tied:
        weights['lm_head.weight'] = 0.2 * torch.randn([V, d], generator=generator, dtype=torch.float64)
    return config, weights


def llama_like_fixture(generator, model_type):
    V, d, L, T, ff, heads, kv = 96, 16, 2, 256, 40, 4, 2
    qwen = model_type == 'qwen2'
    config = {'model_type': model_type, 'architectures': ['Qwen2ForCausalLM' if qwen else 'LlamaForCausalLM'],
              'vocab_size': V, 'hidden_size': d, 'num_hidden_layers': L, 'num_attention_heads': heads,
              'num_key_value_heads': kv, 'intermediate_size': ff, 'max_position_embeddings': T,
              'rms_norm_eps': 1e-6, 'rope_theta': 10000.0 if not qwen else 1000000.0, 'hidden_act': 'silu',
              'tie_word_embeddings': qwen, 'torch_dtype': 'float16' if qwen else 'bfloat16'}
    if qwen:
        config.update({'use_sliding_window': False, 'sliding_window': T, 'max_window_layers': L,
                       'bos_token_id': V - 3, 'eos_token_id': V - 2})
    else:
        config.update({'attention_bias': False, 'mlp_bias': False, 'rope_scaling': None, 'bos_token_id': 1,
                       'eos_token_id': 2})
    head = d // heads
    shapes = {'model.embed_tokens.weight': [V, d]}
    for i in range(L):
        p = f'model.layers.{i}.'
        shapes.update({p + 'input_layernorm.weight': [d], p + 'self_attn.q_proj.weight': [d, d],
                       p + 'self_attn.k_proj.weight': [kv * head, d], p + 'self_attn.v_proj.weight': [kv * head, d],
                       p + 'self_attn.o_proj.weight': [d, d], p + 'post_attention_layernorm.weight': [d],
                       p + 'mlp.gate_proj.weight': [ff, d], p + 'mlp.up_proj.weight': [ff, d],
                       p + 'mlp.down_proj.weight': [d, ff]})
        if qwen:
            shapes.update({p + 'self_attn.q_proj.bias': [d], p + 'self_attn.k_proj.bias': [kv * head],
                           p + 'self_attn.v_proj.bias': [kv * head]})
    shapes['model.norm.weight'] = [d]
    if not qwen:
        shapes['lm_head.weight'] = [V, d]
    return config, random_weights(shapes, generator)


def write_fixture(out, name, config, weights, dtype, shards, ids, tokenizer=None, tokenizer_config=None,
                  generation_config=None):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    # round to the stored dtype first, so the reference computes on exactly the weights the file holds
    weights = {k: v.to(DTYPES[dtype]).to(torch.float64) for k, v in weights.items()}
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    names = list(weights)
    if shards == 1:
        write_safetensors(os.path.join(folder, 'model.safetensors'), weights, dtype)
    else:
        per = math.ceil(len(names) / shards)
        weight_map = {}
        for s in range(shards):
            file = f'model-{s + 1:05d}-of-{shards:05d}.safetensors'
            part = {n: weights[n] for n in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(folder, file), part, dtype)
            weight_map.update({n: file for n in part})
        with open(os.path.join(folder, 'model.safetensors.index.json'), 'w') as f:
            json.dump({'metadata': {'total_size': 0}, 'weight_map': weight_map}, f, indent=2)
    for file, content in (('tokenizer.json', tokenizer), ('tokenizer_config.json', tokenizer_config),
                          ('generation_config.json', generation_config)):
        if content is not None:
            with open(os.path.join(folder, file), 'w') as f:
                json.dump(content, f, indent=1)
    logits = logits_of(folder, ids)
    reference = {'ids': ids, 'shape': list(logits.shape),
                 'logits': [float(f'{v:.7g}') for v in logits.flatten().tolist()]}
    with open(os.path.join(folder, 'reference.json'), 'w') as f:
        json.dump(reference, f, separators=(',', ':'))
    print(f'{folder}: {dtype}, {shards} shard(s), logits {list(logits.shape)}')


def fixtures(out):
    generator = torch.Generator().manual_seed(1234)
    ids = [[3, 17, 5, 0, 9, 30, 12, 7], [21, 2, 2, 14, 35, 1, 26, 8]]
    config, weights = gpt2_fixture(generator)
    write_fixture(out, 'gpt2', config, weights, 'F32', 1, ids, words_tokenizer(40, {'<|endoftext|>': 39}))
    config, weights = llama_like_fixture(generator, 'llama')
    untied_config, untied_weights = gpt2_fixture(torch.Generator().manual_seed(99), tied=False)
    write_fixture(out, 'gpt2-untied', untied_config, untied_weights, 'F32', 1, ids,
                  words_tokenizer(40, {'<|endoftext|>': 39}))
    specials = {'<unk>': 0, '<s>': 1, '</s>': 2}
    llama_tokenizer = words_tokenizer(96, {})
    llama_tokenizer['model']['vocab'] = {**{k: v + 3 for k, v in list(words_tokenizer(93, {})['model']['vocab'].items())},
                                         **specials}
    llama_tokenizer['added_tokens'] = [{'id': at, 'content': name, 'single_word': False, 'lstrip': False,
                                        'rstrip': False, 'normalized': False, 'special': True}
                                       for name, at in specials.items()]
    write_fixture(out, 'llama-sharded-bf16', config, weights, 'BF16', 2, ids, llama_tokenizer,
                  {'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'add_bos_token': True},
                  {'bos_token_id': 1, 'eos_token_id': 2, 'max_new_tokens': 12})
    config, weights = llama_like_fixture(generator, 'qwen2')
    qwen_specials = {'<|endoftext|>': 93, '<|im_start|>': 94, '<|im_end|>': 95}
    config.update({'bos_token_id': 93, 'eos_token_id': 95})
    write_fixture(out, 'qwen2-f16', config, weights, 'F16', 1, ids, words_tokenizer(96, qwen_specials),
                  {'bos_token': None, 'eos_token': '<|im_end|>', 'pad_token': '<|endoftext|>',
                   'chat_template': CHATML_TEMPLATE, 'model_max_length': 256},
                  {'bos_token_id': 93, 'eos_token_id': [95, 93], 'do_sample': True, 'temperature': 0.7,
                   'top_k': 20})


def check(folder, reference_path, tolerance):
    with open(reference_path) as f:
        reference = json.load(f)
    logits = logits_of(folder, reference['ids'])
    expected = torch.tensor(reference['logits'], dtype=torch.float64).reshape(reference['shape'])
    if list(logits.shape) != reference['shape']:
        print(f'{folder}: logits shape {list(logits.shape)} but {reference_path} has {reference["shape"]}')
        return 1
    diff = (logits - expected).abs().max().item()
    print(f'{folder}: largest |logit difference| against {reference_path}: {diff:.3g} (tolerance {tolerance:g})')
    return 0 if diff <= tolerance else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('fixtures').add_argument('out')
    checker = sub.add_parser('check')
    checker.add_argument('folder')
    checker.add_argument('reference')
    checker.add_argument('--tolerance', type=float, default=1e-4)
    args = parser.parse_args()
    if args.command == 'fixtures':
        fixtures(args.out)
        return 0
    return check(args.folder, args.reference, args.tolerance)


if __name__ == '__main__':
    sys.exit(main())
