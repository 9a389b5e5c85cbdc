"""GPT-NeoX-style tokenizer files (SpikeGPT's ``20B_tokenizer.json``) with their own special tokens.

Our :class:`~qslm_neuro.tasks.tokenizer.Tokenizer` requires ``<pad>`` = 0, ``<unk>`` and
``<eos>``, which a model trained with another tokenizer cannot have: its embedding rows are
fixed. This adapter keeps the file's tokens and ids as they are (GPT-NeoX: ``<|endoftext|>`` = 0,
``<|padding|>`` = 1, byte-level BPE with NFC normalisation and 23 added whitespace tokens, 50277
ids) and offers the same interface the tasks use: ``encode``, ``pad_id``, ``eos_id``,
``token_byte_lengths`` (for bits per byte), ``save``.

:func:`load_tokenizer` picks the right class for a ``tokenizer.json``, so a checkpoint
directory written by ``qslm import-spikegpt`` loads like any other.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer as HFTokenizer

from qslm_neuro.errors import BadInputError, DataNotFoundError
from qslm_neuro.fileio import write_text_atomic
from qslm_neuro.tasks.tokenizer import (
    TOKENIZER_FILENAME,
    Tokenizer,
    _normalizer_lowercases,
)

NEOX_EOS, NEOX_PAD = "<|endoftext|>", "<|padding|>"


class NeoXTokenizer:
    """A GPT-NeoX tokenizer file used as is: ``<|padding|>`` pads, ``<|endoftext|>`` ends.

    Byte-level BPE never needs an unknown token and the file has none, so :attr:`unk_id` (used
    only by training's token dropout) is the end-of-text id.
    """

    kind = "gpt-neox"

    def __init__(self, text: str, source: str = "") -> None:
        try:
            data = json.loads(text)
            backend = HFTokenizer.from_str(text)
        except Exception as exc:  # the library raises a bare Exception on malformed files
            raise BadInputError(f"{source or 'tokenizer'} is not a valid tokenizers JSON file "
                                f"({exc}); pass SpikeGPT's 20B_tokenizer.json") from exc
        for token in (NEOX_EOS, NEOX_PAD):
            if backend.token_to_id(token) is None:
                raise BadInputError(f"{source or 'tokenizer'} lacks {token!r}: not a GPT-NeoX "
                                    "tokenizer file (SpikeGPT ships 20B_tokenizer.json)")
        self._text, self._backend = text, backend
        # Special tokens are never matched inside input text (as in our own Tokenizer).
        self._backend.encode_special_tokens = True
        added = data.get("added_tokens") or []
        self._special = tuple(sorted(t["id"] for t in added if t.get("special")))
        self._added_plain = {t["id"]: t["content"] for t in added if not t.get("special")}
        self._normalizer = data.get("normalizer")
        self._byte_lengths: np.ndarray | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NeoXTokenizer:
        """From a directory holding ``tokenizer.json`` or from the file itself."""
        path = Path(path)
        file = path / TOKENIZER_FILENAME if path.is_dir() else path
        if not file.is_file():
            raise DataNotFoundError(f"tokenizer file {str(file)!r} not found")
        return cls(file.read_text(encoding="utf-8"), source=str(file))

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the original file, byte for byte, as ``<directory>/tokenizer.json``."""
        return write_text_atomic(Path(directory) / TOKENIZER_FILENAME, self._text)

    def to_json(self) -> str:
        return self._text

    @property
    def vocab_size(self) -> int:
        return self._backend.get_vocab_size(with_added_tokens=True)

    @property
    def pad_id(self) -> int:
        return self._backend.token_to_id(NEOX_PAD)

    @property
    def eos_id(self) -> int:
        return self._backend.token_to_id(NEOX_EOS)

    @property
    def unk_id(self) -> int:
        return self.eos_id

    @property
    def special_ids(self) -> tuple[int, ...]:
        return self._special

    @property
    def lowercase(self) -> bool:
        return _normalizer_lowercases(self._normalizer)

    def encode(self, text: str) -> list[int]:
        return self._backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._backend.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def id_to_token(self, token_id: int) -> str | None:
        return self._backend.id_to_token(int(token_id))

    def token_byte_lengths(self) -> np.ndarray:
        """UTF-8 bytes per id: 0 for special tokens; added plain tokens (runs of spaces) are
        stored as text, BPE tokens in the byte-level alphabet (one character per byte)."""
        if self._byte_lengths is None:
            lengths = np.zeros(self.vocab_size, dtype=np.int64)
            special = set(self._special)
            for token_id in range(self.vocab_size):
                if token_id in special:
                    continue
                if token_id in self._added_plain:
                    lengths[token_id] = len(self._added_plain[token_id].encode("utf-8"))
                    continue
                token = self._backend.id_to_token(token_id)
                if token is not None:
                    lengths[token_id] = len(token)
            self._byte_lengths = lengths
        return self._byte_lengths

    def __repr__(self) -> str:
        return f"NeoXTokenizer(vocab_size={self.vocab_size})"


def is_neox_file(data: dict[str, Any]) -> bool:
    """Whether parsed tokenizer JSON is GPT-NeoX style (its special tokens, not ours)."""
    added = {t.get("content") for t in data.get("added_tokens") or []}
    return NEOX_EOS in added and "<pad>" not in added


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer | NeoXTokenizer:
    """Our Tokenizer, or the NeoX adapter when the file is a GPT-NeoX tokenizer."""
    path = Path(path)
    file = path / TOKENIZER_FILENAME if path.is_dir() else path
    if file.is_file():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {}
        if isinstance(data, dict) and is_neox_file(data):
            return NeoXTokenizer.load(file)
    return Tokenizer.load(path)
