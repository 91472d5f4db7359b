#!/usr/bin/env python3
"""A small T5-layout tokenizer.json (SentencePiece Unigram) and the ids of a hand-written Unigram Viterbi.

Writes OUT_DIR/tokenizer.json and tokenizer_config.json in the layout of T5's files (Unigram model with `<pad>` 0,
`</s>` 1, `<unk>` 2, sentinels `<extra_id_N>` at the top of the vocabulary with `<extra_id_0>` last, WhitespaceSplit
and Metaspace pre-tokenizers, a Metaspace decoder, `$A </s>` post-processor) and OUT_DIR/tokenizer-reference.json:
texts and the ids the pipeline of Hugging Face's Rust `tokenizers` gives them, computed here step by step:
  1. added (special) tokens are split out of the raw text first;
  2. each remaining piece is split on whitespace, and every word gets the "▁" prefix (Metaspace, prepend always);
  3. each word is segmented by Viterbi over the Unigram lattice: the segmentation with the largest sum of piece
     scores; a character no piece starts with becomes `<unk>` scored (lowest score - 10), and neighbouring unknowns
     fuse into one `<unk>` (the Rust model's fuse_unk).
The vocabulary has no Precompiled normalizer (real T5 files carry one, an NFKC-like character map).

  t5_tokenizer_reference.py OUT_DIR
"""
import json
import sys
from pathlib import Path

SPECIALS = ["<pad>", "</s>", "<unk>"]
SENTINELS = 4  # <extra_id_0> .. <extra_id_3>
# (piece, log-probability): distinct scores, so no two segmentations tie
PIECES = [
    ("▁", -2.0), ("e", -3.1), ("l", -3.2), ("o", -3.3), ("h", -3.4), ("w", -3.5), ("r", -3.6), ("d", -3.7),
    ("a", -3.8), ("t", -3.9), ("c", -4.0), ("s", -4.1), ("n", -4.2), ("i", -4.3), ("▁the", -4.5), ("▁a", -4.6),
    ("▁he", -5.0), ("llo", -5.3), ("▁hello", -6.1), ("▁w", -5.4), ("or", -5.5), ("ld", -5.6), ("▁world", -7.9),
    ("he", -5.7), ("ll", -5.8), ("▁c", -5.9), ("at", -6.0), ("▁cat", -6.2), ("▁is", -6.3), ("in", -6.4),
    ("ing", -6.5), ("▁sing", -8.8),
]


def vocabulary():
    vocab = [(s, 0.0) for s in SPECIALS] + PIECES
    vocab += [(f"<extra_id_{n}>", 0.0) for n in reversed(range(SENTINELS))]
    return vocab


def viterbi(word, scores, unk_id, unk_score):
    """Best segmentation of `word` (characters) into vocabulary pieces; returns ids."""
    n = len(word)
    best = [(-float("inf"), None, None)] * (n + 1)  # (score, start, id) of the best path ending at each position
    best[0] = (0.0, None, None)
    for start in range(n):
        if best[start][0] == -float("inf"):
            continue
        has_single = False
        for end in range(start + 1, n + 1):
            piece = word[start:end]
            if piece in scores:
                piece_id, score = scores[piece]
                if end == start + 1:
                    has_single = True
                total = best[start][0] + score
                if total > best[end][0]:
                    best[end] = (total, start, piece_id)
        if not has_single:
            total = best[start][0] + unk_score
            if total > best[start + 1][0]:
                best[start + 1] = (total, start, unk_id)
    ids, at = [], n
    while at > 0:
        _, start, piece_id = best[at]
        ids.append(piece_id)
        at = start
    ids.reverse()
    fused = []
    for piece_id in ids:  # fuse_unk: a run of unknowns is one <unk>
        if not (piece_id == unk_id and fused and fused[-1] == unk_id):
            fused.append(piece_id)
    return fused


def encode(text, vocab):
    scores = {piece: (i, score) for i, (piece, score) in enumerate(vocab) if piece not in SPECIALS and not piece.startswith("<extra_id_")}
    added = {piece: i for i, (piece, _) in enumerate(vocab) if piece in SPECIALS or piece.startswith("<extra_id_")}
    unk_id = SPECIALS.index("<unk>")
    unk_score = min(score for _, score in vocab) - 10.0
    ids, rest = [], text
    while rest:
        hits = [(rest.find(token), token) for token in added if rest.find(token) >= 0]
        at, token = min(hits) if hits else (len(rest), None)
        for word in rest[:at].split():
            ids += viterbi("▁" + word, scores, unk_id, unk_score)
        if token is None:
            break
        ids.append(added[token])
        rest = rest[at + len(token):]
    return ids


TEXTS = [
    "hello world", "the cat", "  hello   world  ", "hello<extra_id_0> world", "a cat is singing", "xyz hello",
    "he<extra_id_3>llo </s>", "héllo wörld", "sing sing", "", "world hello the cat",
]


def main(out_dir):
    vocab = vocabulary()
    dest = Path(out_dir)
    dest.mkdir(parents=True, exist_ok=True)
    added_tokens = [
        {"id": i, "content": piece, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        for i, (piece, _) in enumerate(vocab) if piece in SPECIALS or piece.startswith("<extra_id_")
    ]
    metaspace = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}},
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 2, "vocab": [[piece, score] for piece, score in vocab], "byte_fallback": False},
    }
    (dest / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False, indent=1) + "\n")
    config = {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": SENTINELS,
              "additional_special_tokens": [f"<extra_id_{n}>" for n in range(SENTINELS)], "model_max_length": 512}
    (dest / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    reference = [{"text": text, "ids": encode(text, vocab)} for text in TEXTS]
    (dest / "tokenizer-reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n")
    for row in reference:
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
