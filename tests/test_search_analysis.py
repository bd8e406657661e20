"""Folding and stemming as the archive prepares them (no Elasticsearch needed)."""

import pytest

from search.analysis import fold, query_tokens, stemmed_text, with_stems


def test_folding_removes_accents_and_case():
    assert fold("Schäden") == "schaden"
    assert fold("Café") == "cafe"
    assert fold("Straße") == "strasse"
    assert fold("Bürgermeisterin") == "burgermeisterin"


@pytest.mark.parametrize(
    "language, typed, stored",
    [
        ("en", "strikes", "strike"),
        ("en", "fishermen", "fisherman"),
        ("de", "Schaden", "Schäden"),
        ("de", "Burgermeisterin", "Bürgermeisterin"),
        ("fr", "cafe", "cafés"),
        ("es", "huelgas", "huelga"),
        ("it", "scioperi", "sciopero"),
        ("pt", "greves", "greve"),
        ("nl", "stakingen", "staking"),
    ],
)
def test_a_typed_form_meets_the_stored_form_in_the_articles_language(language, typed, stored):
    assert stemmed_text(stored, language) in query_tokens(typed)


def test_stems_carry_their_language_so_languages_do_not_mix():
    assert stemmed_text("strikes", "en") == "en_strike"
    assert stemmed_text("strikes", "en-GB") == "en_strike"
    assert stemmed_text("strikes", None) == "xx_strikes"  # unknown language: folded only
    assert query_tokens("strikes", ("en",)) == ["en_strike"]


def test_documents_get_stemmed_fields_beside_the_exact_ones():
    doc = with_stems({"title": "Schäden an Deichen", "body": "Die Bürgermeisterin", "language": "de"})
    assert doc["title"] == "Schäden an Deichen"
    assert doc["title_stem"] == "de_schad de_an de_deich"
    assert doc["description_stem"] == ""
