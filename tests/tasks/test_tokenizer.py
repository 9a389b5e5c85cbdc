"""Byte-level BPE tokenizer: lossless round trip, fixed special ids, determinism, save/load."""
from __future__ import annotations

import random

import pytest

from qslm_neuro.errors import BadInputError, DataNotFoundError
from qslm_neuro.tasks.tokenizer import TOKENIZER_FILENAME, Tokenizer

WORDS = ("the film is a good bad long short story of actors and music that never works "
         "lobster species ocean cm kilograms").split()


def synthetic_corpus(n_lines: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + " .\n"
            for _ in range(n_lines)]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.train(synthetic_corpus(), vocab_size=400)


def test_round_trip_is_lossless_even_for_unseen_scripts(tokenizer):
    text = " = Homarus = \n naïve café — 東京 🦞\ttabs  and   spaces \n\n"
    ids = tokenizer.encode(text)
    assert tokenizer.unk_id not in ids
    assert tokenizer.decode(ids) == text


def test_special_ids_and_vocabulary(tokenizer):
    assert tokenizer.pad_id == 0
    assert len({tokenizer.pad_id, tokenizer.unk_id, tokenizer.eos_id}) == 3
    assert 259 < tokenizer.vocab_size <= 400
    # merges were learnt: a frequent word is one token, not one per byte
    assert len(tokenizer.encode(" lobster")) == 1


def test_special_token_text_inside_a_document_is_ordinary_text(tokenizer):
    ids = tokenizer.encode("a <eos> b <pad>")
    assert tokenizer.eos_id not in ids and tokenizer.pad_id not in ids
    assert tokenizer.decode(ids) == "a <eos> b <pad>"


def test_encode_batch_equals_encode(tokenizer):
    texts = ["the film", " works .", ""]
    assert tokenizer.encode_batch(texts) == [tokenizer.encode(t) for t in texts]


def test_training_is_deterministic():
    first = Tokenizer.train(synthetic_corpus(seed=1), vocab_size=350)
    second = Tokenizer.train(synthetic_corpus(seed=1), vocab_size=350)
    assert first.to_json() == second.to_json()


def test_token_byte_lengths_add_up_to_the_utf8_size(tokenizer):
    text = "".join(synthetic_corpus(20, seed=3)) + " 東京 café 🦞"
    lengths = tokenizer.token_byte_lengths()
    assert lengths.shape == (tokenizer.vocab_size,)
    assert lengths[list(tokenizer.special_ids)].sum() == 0
    assert int(lengths[tokenizer.encode(text)].sum()) == len(text.encode("utf-8"))


def test_save_and_load_from_directory_or_file(tokenizer, tmp_path):
    path = tokenizer.save(tmp_path / "ckpt")
    assert path == tmp_path / "ckpt" / TOKENIZER_FILENAME
    text = "".join(synthetic_corpus(5, seed=9))
    for source in (tmp_path / "ckpt", path):
        loaded = Tokenizer.load(source)
        assert loaded.encode(text) == tokenizer.encode(text)
        assert loaded.vocab_size == tokenizer.vocab_size and loaded.lowercase is False
        assert loaded.eos_id not in loaded.encode("x <eos>")  # setting survives the reload


def test_lowercasing_is_applied_and_saved_with_the_tokenizer(tmp_path):
    lower = Tokenizer.train(synthetic_corpus(), vocab_size=350, lowercase=True)
    assert lower.encode(" The FILM") == lower.encode(" the film")
    lower.save(tmp_path)
    reloaded = Tokenizer.load(tmp_path)
    assert reloaded.lowercase is True
    assert reloaded.decode(reloaded.encode(" The FILM")) == " the film"


def test_bad_arguments_and_missing_files_are_explained(tmp_path):
    with pytest.raises(BadInputError, match="vocab_size=100"):
        Tokenizer.train(["abc"], vocab_size=100)
    with pytest.raises(DataNotFoundError, match="tokenizer.json"):
        Tokenizer.load(tmp_path)
    (tmp_path / TOKENIZER_FILENAME).write_text("{not json")
    with pytest.raises(BadInputError, match="not a valid"):
        Tokenizer.load(tmp_path)
