"""SST-2: binary sentiment accuracy on GLUE SST-2 (``dev`` is the split papers report)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from qslm_neuro.errors import BadInputError
from qslm_neuro.tasks.base import (ProxyBatch, batch_progress, digest_tensors, eval_mode,
                                   model_device, pad_batch)
from qslm_neuro.tasks.data import load_sst2
from qslm_neuro.tasks.phrases import PhraseIndex, phrases_of, words_of
from qslm_neuro.tasks.tokenizer import Tokenizer


#: Full training sentences the shipped classifier kept out of training (``qslm train --heldout``).
HELDOUT_SENTENCES = 1000
SPLITS = ("train", "dev", "heldout")


def heldout_sentences(data_dir=None, n: int = HELDOUT_SENTENCES, seed: int = 0
                      ) -> list[tuple[str, int]]:
    """The ``n`` full training sentences that :func:`split_heldout` keeps out of training.

    They are what a search selects on: a model trained with the same ``n`` and ``seed`` never
    saw them (nor any of their phrases), and the reported dev split stays untouched.
    """
    if n < 1:
        raise BadInputError(f"heldout={n}: the held-out split needs at least one sentence")
    _, held = split_heldout(load_sst2("train", data_dir), n, seed)
    if len(held) < n:
        raise BadInputError(f"only {len(held)} full training sentences can be held out, {n} "
                            "were asked; ask for fewer")
    return held


class SST2Task:
    """Binary sentiment accuracy on GLUE SST-2 (``dev`` is the split papers report)."""

    name_in_registry = "sst2"
    model_head = "classify"
    default_split = "dev"
    #: A search selects on ``selection_split`` and reports on ``report_split`` (None: the same).
    selection_split = "heldout"
    report_split = "dev"
    metric = "accuracy"
    higher_is_better = True
    n_classes = 2
    #: Search defaults, in sentences: the calibration subset and the KL proxy batch.
    default_calibration_size = 128
    default_proxy_size = 32

    @classmethod
    def create(cls, tokenizer: Tokenizer, data_dir=None, split: str | None = None,
               ctx_len: int | None = None, **options: Any) -> "SST2Task":
        """The registry's constructor; ``ctx_len`` is ignored (sentences are read whole)."""
        return cls(tokenizer, data_dir, split=split or cls.default_split, **options)

    def __init__(self, tokenizer: Tokenizer, data_dir=None, split: str = "dev",
                 batch_size: int = 128, max_examples: int | None = None, seed: int = 0,
                 max_len: int | None = None, heldout: int = HELDOUT_SENTENCES,
                 heldout_seed: int = 0) -> None:
        if split == "heldout":
            examples = heldout_sentences(data_dir, heldout, heldout_seed)
            split = f"train-heldout[{heldout}, seed {heldout_seed}]"
        else:
            examples = load_sst2(split, data_dir)
        if max_examples is not None and max_examples < len(examples):
            whole = len(examples)
            examples = stratified_sample(examples, max_examples, seed)
            split = f"{split}, {len(examples)} of its {whole} sentences (seed {seed})"
        self._setup(tokenizer, examples, batch_size, max_len, name=f"sst2/{split}")

    @classmethod
    def from_examples(cls, tokenizer: Tokenizer, examples: Sequence[tuple[str, int]],
                      batch_size: int = 128, max_len: int | None = None,
                      name: str = "custom") -> "SST2Task":
        """A task over in-memory (sentence, label) pairs, e.g. synthetic data in tests."""
        task = cls.__new__(cls)
        task._setup(tokenizer, list(examples), batch_size, max_len, name=name)
        return task

    def _setup(self, tokenizer: Tokenizer, examples: list[tuple[str, int]], batch_size: int,
               max_len: int | None, name: str) -> None:
        if batch_size < 1:
            raise BadInputError(f"batch_size={batch_size}; expected a positive integer.")
        if max_len is not None and max_len < 1:
            raise BadInputError(f"max_len={max_len}; expected a positive integer or None.")
        if not examples:
            raise BadInputError(f"task {name!r} has no examples; expected at least one.")
        bad = [label for _, label in examples if label not in range(self.n_classes)]
        if bad:
            raise BadInputError(f"task {name!r} has label {bad[0]!r}; expected 0 or 1.")
        self.tokenizer, self.examples, self.name = tokenizer, examples, name
        self.batch_size, self.max_len = batch_size, max_len
        encoded = tokenizer.encode_batch([sentence for sentence, _ in examples])
        # An empty sentence still needs one step for a recurrent model to read out; <eos> it is.
        encoded = [(ids[:max_len] if max_len else ids) or [tokenizer.eos_id] for ids in encoded]
        order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
        labels = torch.tensor([label for _, label in examples], dtype=torch.long)
        self._batches = []
        self._batch_rows: list[list[int]] = []  # which examples each batch holds
        for begin in range(0, len(order), batch_size):
            rows = order[begin: begin + batch_size]
            idx, lengths = pad_batch([encoded[i] for i in rows], tokenizer.pad_id)
            self._batches.append((idx, lengths, labels[rows]))
            self._batch_rows.append(rows)

    def __len__(self) -> int:
        return len(self.examples)

    def batches(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The (idx, lengths, labels) batches, sorted by length (shortest first)."""
        return list(self._batches)

    def evaluate(self, model: nn.Module, per_item: bool = False,
                 progress: bool | None = None) -> dict[str, Any]:
        """Accuracy; with ``per_item`` also ``per_example_correct`` (0/1 in example order), which
        paired comparisons between two models on the same sentences need. ``progress``: a bar
        over the batches (see :func:`~qslm_neuro.tasks.base.batch_progress`)."""
        device = model_device(model)
        correct = 0
        hits = np.zeros(len(self.examples), dtype=np.int8)
        with eval_mode(model), torch.no_grad():
            for (idx, lengths, labels), rows in batch_progress(
                    zip(self._batches, self._batch_rows), len(self._batches),
                    f"{self.name}: evaluating", progress):
                logits = model(idx.to(device), lengths.to(device))
                if logits.ndim != 2 or logits.shape[0] != idx.shape[0] or logits.shape[1] < 2:
                    raise BadInputError(
                        f"classifier returned logits of shape {tuple(logits.shape)} for a batch of "
                        f"{idx.shape[0]}; expected [batch, n_classes] class logits.")
                right = (logits.argmax(dim=-1).cpu() == labels)
                correct += int(right.sum())
                hits[rows] = right.numpy()
        n = len(self.examples)
        result = {"metric": self.metric, "value": correct / n, "n": n, "correct": correct,
                  "higher_is_better": self.higher_is_better, "split": self.name}
        if per_item:
            result["per_example_correct"] = hits.tolist()
        return result

    def item_count(self) -> int:
        """Items a search may race a candidate on (:mod:`qslm_neuro.quantsearch.racing`)."""
        return len(self.examples)

    def evaluate_items(self, model: nn.Module, indices: Sequence[int]) -> dict[str, list]:
        """Per-item ``values`` (1 if the sentence is classified right) and ``weights`` (1) of
        the sentences at ``indices``: accuracy over any set of items is sum(values) /
        sum(weights), so results on disjoint slices add up to the full split's."""
        subset = SST2Task.from_examples(self.tokenizer, [self.examples[i] for i in indices],
                                        self.batch_size, self.max_len, name=f"{self.name}[items]")
        hits = subset.evaluate(model, per_item=True)["per_example_correct"]
        return {"values": [float(h) for h in hits], "weights": [1.0] * len(hits)}

    @staticmethod
    def item_metric(mean_value: float) -> float:
        """The metric of a set of items whose weighted mean value is ``mean_value``."""
        return mean_value

    def calibration_subset(self, n: int, seed: int = 0) -> "SST2Task":
        """``n`` examples, label proportions kept, chosen by ``seed``."""
        subset = stratified_sample(self.examples, n, seed)
        name = f"{self.name}[{len(subset)} of {len(self)}, seed {seed}]"
        return SST2Task.from_examples(self.tokenizer, subset, self.batch_size, self.max_len, name)

    def data_digest(self) -> str:
        """sha256 of the padded token ids, lengths and labels of every batch, in order."""
        if getattr(self, "_digest", None) is None:
            self._digest = digest_tensors(
                f"sst2|batch_size={self.batch_size}|max_len={self.max_len}",
                (t for batch in self._batches for t in batch))
        return self._digest

    def proxy(self, n: int, seed: int = 0) -> ProxyBatch:
        """Class logits of ``n`` sentences (a stratified subset chosen by ``seed``)."""
        subset = self.calibration_subset(n, seed)
        batches = [(idx, lengths) for idx, lengths, _labels in subset.batches()]

        def classify(model: nn.Module) -> torch.Tensor:
            device = model_device(model)
            return torch.cat([model(idx.to(device), lengths.to(device))
                              for idx, lengths in batches])
        return classify, len(subset)


def stratified_sample(examples: Sequence[tuple[str, int]], n: int,
                      seed: int) -> list[tuple[str, int]]:
    """``n`` examples keeping label proportions (largest remainder), original order preserved.

    Every label keeps at least one example while ``n`` allows it.
    """
    if n < 1:
        raise BadInputError(f"n={n}; expected a positive number of examples.")
    if n >= len(examples):
        return list(examples)
    labels = np.array([label for _, label in examples])
    classes, class_counts = np.unique(labels, return_counts=True)
    exact = class_counts * n / len(examples)
    quotas = np.floor(exact).astype(int)
    for extra in np.argsort(-(exact - quotas), kind="stable")[: n - quotas.sum()]:
        quotas[extra] += 1
    # A rare class must not vanish from a small subset: it borrows one slot from the largest.
    for empty in np.flatnonzero(quotas == 0):
        largest = int(np.argmax(quotas))
        if quotas[largest] > 1:
            quotas[largest] -= 1
            quotas[empty] = 1
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([
        rng.choice(np.flatnonzero(labels == label), size=quota, replace=False)
        for label, quota in zip(classes, quotas)])
    return [examples[i] for i in np.sort(chosen)]


def split_heldout(examples: list[tuple[str, int]], n: int, seed: int, min_words: int = 8
                  ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Keep ``n`` full training sentences aside for model selection, without leakage.

    SST-2's train split holds every phrase of its parse trees next to the full sentences, so a
    random held-out row usually has its sub-phrases (or a longer sentence containing it) still in
    training, which inflates held-out accuracy (we saw 0.88 held-out vs 0.78 dev). Here the
    held-out rows are sentences no other row contains (whole sentences, like the dev split), and
    every training row that is a phrase of a held-out sentence is removed.
    """
    rng = np.random.default_rng(seed)
    longer_first = sorted(range(len(examples)), key=lambda i: -len(examples[i][0]))
    candidates = [i for i in longer_first if len(examples[i][0].split()) >= min_words]
    rng.shuffle(candidates)
    # A full sentence is a row that occurs in no other row (nor twice in the split).
    key_words = min((len(words_of(examples[i][0])) for i in candidates), default=1)
    index = PhraseIndex([sentence for sentence, _ in examples], key_words)
    held: list[int] = []
    for i in candidates:
        if not index.occurs_at_least(index.rows[i], 2):
            held.append(i)
        if len(held) == n:
            break
    held_phrases = phrases_of([examples[i][0] for i in held])
    held_set = set(held)
    train = [e for i, e in enumerate(examples) if i not in held_set and e[0] not in held_phrases]
    return train, [examples[i] for i in sorted(held)]
