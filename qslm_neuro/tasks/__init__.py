"""Datasets, tokenizers, metrics, n-gram baselines and the task evaluators the search calls.

* :mod:`~.data` - SST-2 and WikiText-2 loaders (``QSLM_DATA_DIR``);
* :mod:`~.tokenizer` - the byte-level BPE tokenizer shipped with each checkpoint;
* :mod:`~.metrics` - accuracy, perplexity, bits per byte;
* :mod:`~.ngram` - unigram / bigram baselines on the same tokens;
* :mod:`~.base` - the task protocol; :mod:`~.registry` - tasks by name (:func:`make_task`);
* :mod:`~.sst2`, :mod:`~.wikitext2` - the two task evaluators.

Public names are imported lazily, so ``from qslm_neuro.tasks import data`` does not load torch.
"""
from __future__ import annotations

from qslm_neuro.lazy import lazy_exports

_EXPORTS = {
    "Task": "qslm_neuro.tasks.base",
    "pad_batch": "qslm_neuro.tasks.base",
    "SST2Task": "qslm_neuro.tasks.sst2",
    "stratified_sample": "qslm_neuro.tasks.sst2",
    "WikiText2Task": "qslm_neuro.tasks.wikitext2",
    "window_plan": "qslm_neuro.tasks.wikitext2",
    "LM_SPLITS": "qslm_neuro.tasks.wikitext2",
    "TASKS": "qslm_neuro.tasks.registry",
    "TASK_NAMES": "qslm_neuro.tasks.registry",
    "make_task": "qslm_neuro.tasks.registry",
    "register_task": "qslm_neuro.tasks.registry",
    "task_for_head": "qslm_neuro.tasks.registry",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
