"""Print the WikiText-2 n-gram baselines (unigram, bigram Kneser-Ney / Jelinek-Mercer).

Usage: ``python tools/ngram_baselines.py [--data-dir DIR] [--vocab-size N]`` (needs
``QSLM_DATA_DIR`` or ``--data-dir``). The numbers in data/MODELS.md come from
``tools/model_card.py``, which calls the same :func:`qslm_neuro.tasks.ngram.wikitext2_baselines`.
"""
from __future__ import annotations

import argparse
import time

from qslm_neuro.tasks.data import wikitext2_lm_splits
from qslm_neuro.tasks.ngram import wikitext2_baselines
from qslm_neuro.tasks.tokenizer import Tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--vocab-size", type=int, default=4096)
    args = parser.parse_args()
    start = time.perf_counter()
    splits = wikitext2_lm_splits(args.data_dir)
    tokenizer = Tokenizer.train(splits.train.splitlines(keepends=True), args.vocab_size)
    trained = time.perf_counter()
    results = wikitext2_baselines(tokenizer, splits)
    done = time.perf_counter()
    print(f"WikiText-2 test, byte-level BPE vocab {tokenizer.vocab_size}; {splits.note}")
    for key in ("unigram", "bigram_kn", "bigram_jm", "bigram"):
        r = results[key]
        print(f"{key:10s} {r.name:34s} ppl {r.test.ppl:9.2f}  bpb {r.test.bpb:.4f}  "
              f"tokens {r.test.tokens}  bytes {r.test.bytes}  params {r.params}")
    print(f"tokenizer training {trained - start:.2f} s; encoding + fitting + scoring "
          f"{done - trained:.2f} s")


if __name__ == "__main__":
    main()
