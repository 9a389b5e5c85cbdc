"""A byte-level BPE tokenizer (Hugging Face ``tokenizers``) that is saved with each checkpoint.

Byte-level means every UTF-8 byte is in the base vocabulary, so no text is ever out of vocabulary
and ``decode(encode(text)) == text`` (up to the optional lowercasing). Each non-special token
stands for a fixed byte string, which is what lets :mod:`qslm_neuro.tasks.metrics` turn a perplexity
into bits per byte, a number comparable across tokenizers.

Special tokens: ``<pad>`` (id 0, so zero-initialised buffers are padding), ``<unk>`` (kept for
compatibility; byte-level BPE never produces it) and ``<eos>``. They are never matched inside input
text: a literal "<eos>" in a document is encoded as the characters it is made of.

Training is deterministic: the same texts and settings give the same ``tokenizer.json``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from qslm_neuro.errors import BadInputError, DataNotFoundError
from qslm_neuro.fileio import write_text_atomic

PAD_TOKEN, UNK_TOKEN, EOS_TOKEN = "<pad>", "<unk>", "<eos>"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, EOS_TOKEN)
TOKENIZER_FILENAME = "tokenizer.json"
_BYTE_ALPHABET_SIZE = 256


class Tokenizer:
    """Byte-level BPE with ``<pad>``=0, ``<unk>``, ``<eos>``; optional lowercasing."""

    def __init__(self, backend: HFTokenizer) -> None:
        self._backend = backend
        # Not stored in tokenizer.json by the library, so it is set on every construction.
        self._backend.encode_special_tokens = True
        for token in SPECIAL_TOKENS:
            if backend.token_to_id(token) is None:
                raise BadInputError(f"tokenizer lacks the special token {token!r}; expected a "
                                    "tokenizer made by qslm_neuro.tasks.tokenizer.Tokenizer.train.")
        if backend.token_to_id(PAD_TOKEN) != 0:
            raise BadInputError(f"tokenizer has {PAD_TOKEN!r} at id "
                                f"{backend.token_to_id(PAD_TOKEN)}; expected id 0.")
        self._byte_lengths: np.ndarray | None = None

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, min_frequency: int = 2,
              lowercase: bool = False) -> "Tokenizer":
        """Learn merges from ``texts`` until ``vocab_size`` tokens (specials and bytes included).

        The vocabulary can come out smaller when the texts have too few pairs seen
        ``min_frequency`` times; :attr:`vocab_size` reports the real size.
        """
        minimum = len(SPECIAL_TOKENS) + _BYTE_ALPHABET_SIZE
        if vocab_size < minimum:
            raise BadInputError(f"vocab_size={vocab_size}; a byte-level BPE needs at least "
                                f"{minimum} (3 special tokens + 256 bytes).")
        if min_frequency < 1:
            raise BadInputError(f"min_frequency={min_frequency}; expected an integer >= 1.")
        backend = HFTokenizer(models.BPE())
        if lowercase:
            backend.normalizer = normalizers.Lowercase()
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Tokenizer":
        """Load from a directory holding ``tokenizer.json`` or from the file itself."""
        path = Path(path)
        file = path / TOKENIZER_FILENAME if path.is_dir() else path
        if not file.is_file():
            raise DataNotFoundError(f"tokenizer file {str(file)!r} not found; expected the "
                                    f"{TOKENIZER_FILENAME} written by Tokenizer.save(directory).")
        try:
            backend = HFTokenizer.from_str(file.read_text(encoding="utf-8"))
        except Exception as exc:  # the library raises a bare Exception on malformed JSON
            raise BadInputError(f"{str(file)!r} is not a valid tokenizers JSON file ({exc}); "
                                "re-save it with Tokenizer.save.") from exc
        return cls(backend)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``<directory>/tokenizer.json`` atomically and return its path."""
        return write_text_atomic(Path(directory) / TOKENIZER_FILENAME, self.to_json())

    def to_json(self) -> str:
        return self._backend.to_str(pretty=True)

    # ------------------------------------------------------------------------------ properties
    @property
    def vocab_size(self) -> int:
        return self._backend.get_vocab_size(with_added_tokens=True)

    @property
    def pad_id(self) -> int:
        return self._backend.token_to_id(PAD_TOKEN)

    @property
    def unk_id(self) -> int:
        return self._backend.token_to_id(UNK_TOKEN)

    @property
    def eos_id(self) -> int:
        return self._backend.token_to_id(EOS_TOKEN)

    @property
    def special_ids(self) -> tuple[int, ...]:
        return tuple(self._backend.token_to_id(token) for token in SPECIAL_TOKENS)

    @property
    def lowercase(self) -> bool:
        """Whether text is lowercased before encoding (read from the saved normalizer)."""
        normalizer = json.loads(self._backend.to_str()).get("normalizer")
        return _normalizer_lowercases(normalizer)

    # --------------------------------------------------------------------------- encode/decode
    def encode(self, text: str) -> list[int]:
        return self._backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self._backend.encode_batch(list(texts), add_special_tokens=False)
        return [encoding.ids for encoding in encodings]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return self._backend.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def id_to_token(self, token_id: int) -> str | None:
        return self._backend.id_to_token(int(token_id))

    def token_byte_lengths(self) -> np.ndarray:
        """UTF-8 bytes each token id stands for (0 for special tokens), as an int64 array.

        In the byte-level alphabet each character of a token string stands for exactly one byte.
        Summing this over the ids of a text gives the byte count of the (normalised) text.
        """
        if self._byte_lengths is None:
            special = set(self.special_ids)
            lengths = np.zeros(self.vocab_size, dtype=np.int64)
            for token_id in range(self.vocab_size):
                token = self._backend.id_to_token(token_id)
                if token is not None and token_id not in special:
                    lengths[token_id] = len(token)
            self._byte_lengths = lengths
        return self._byte_lengths

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase})"


def _normalizer_lowercases(normalizer: dict | None) -> bool:
    if not normalizer:
        return False
    if normalizer.get("type") == "Lowercase":
        return True
    if normalizer.get("type") == "Sequence":
        return any(_normalizer_lowercases(child) for child in normalizer.get("normalizers", []))
    return False
