"""Words as the index and the queries see them (no database)."""

from __future__ import annotations

import pytest

from comptoir.search.text import Word, document_text, normalize, parse_query, phone_words
from comptoir.search.vocabulary import Vocabulary, max_edits


@pytest.mark.parametrize(("raw", "folded"), [
    ("Élodie DUBOIS-Martin", "elodie dubois martin"),
    ("l’Atelier « Œuvre »", "l atelier oeuvre"),
    ("Straße Łódź Ørsted", "strasse lodz orsted"),
    ("camille.dubois@exemple.fr", "camille dubois exemple fr"),
    ("  many   spaces, commas;  ", "many spaces commas"),
    ("Ἀθῆναι", "αθηναι"),
    ("", ""),
])
def test_normalize_folds_case_accents_and_separators(raw: str, folded: str) -> None:
    assert normalize(raw) == folded


def test_document_text_keeps_each_word_once_and_unpadded_numbers() -> None:
    assert document_text("CAS-000123", "Retard", "retard") == "cas 000123 retard 123"
    assert document_text("", "Lyon") == "lyon"


def test_phone_words_add_the_national_form_of_french_numbers() -> None:
    assert phone_words("+33 4 72 12 34 56") == "33472123456 0472123456"
    assert phone_words("+1 212 555 0100") == "12125550100"
    assert phone_words("") == ""


def test_the_last_word_is_a_prefix_unless_the_query_ends_with_a_space() -> None:
    assert parse_query("Jean Dub") == [Word("jean", False), Word("dub", True)]
    assert parse_query("Jean Dubois ") == [Word("jean", False), Word("dubois", False)]


def test_short_digit_groups_are_one_number() -> None:
    assert [w.text for w in parse_query("04 72 12 34 56")] == ["0472123456"]
    assert [w.text for w in parse_query("732 829 320 00074")] == ["73282932000074"]
    assert [w.text for w in parse_query("DEV 2025 000123")] == ["dev", "2025", "000123"]


def test_a_single_letter_being_typed_after_words_is_ignored() -> None:
    assert parse_query("dubois l") == [Word("dubois", False)]
    assert parse_query("dubois ly") == [Word("dubois", False), Word("ly", True)]


def test_tolerated_edits_grow_with_word_length() -> None:
    assert [max_edits("x" * n) for n in (2, 3, 4, 7, 8, 12)] == [0, 0, 1, 1, 2, 2]


def test_vocabulary_corrections_and_prefix_corrections() -> None:
    vocab = Vocabulary()
    vocab.add(["dubois", "dupont", "lefebvre", "lefevre", "martin", "martinez", "marten"])
    assert "dubois" in vocab.corrections("dubios")  # a transposition is one edit
    assert "lefebvre" in vocab.corrections("lefebre")  # a missing letter
    assert "lefevre" in vocab.corrections("lefebre")
    assert vocab.corrections("dubois") == {}  # the word itself is not a correction
    assert vocab.corrections("dux") == {}  # too short to correct
    assert vocab.corrections("mubois") == {}  # a wrong first letter counts twice
    assert "lefebvre" in vocab.corrections("kefebvre")  # … which long words allow
    assert "lefebv" in vocab.prefix_corrections("lefebr")
    assert vocab.starting_with("mart", 10) == ["marten", "martin", "martinez"]
    assert vocab.starting_with("mart", 2) is None  # too many: the engine's prefix search
    assert vocab.starting_with("zz", 10) == []
