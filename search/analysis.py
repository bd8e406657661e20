"""Language-aware matching, prepared in Python because the mapping may use only core analysis.

The development node has no `analysis-common` module (no stemmer, no ASCII folding), and the
mapping is the same everywhere. So the archive folds and stems text itself: each article's
title, description and body are indexed a second time, folded and stemmed per the article's
language, into ``*_stem`` fields beside the exact ones (standard analyzer on both). A query
word is prepared the same way and matched against those fields; phrases stay on the exact
fields.

Stemmer: ``snowballstemmer`` (PyPI). It is the Snowball project's own Python build of the same
algorithms Lucene's stemming filters use, pure Python (no compiler, no model files), covers
English, German, French, Spanish, Italian, Portuguese, Dutch and ~25 more, and has been kept
for over a decade. A lemmatiser (simplemma) would get irregular plurals right but ships large
per-language dictionaries and is slower; the one irregular family a newsroom meets all the
time (fishermen, chairmen, women) is handled by a rule below.

Each stemmed token carries its language (``en_strike``, ``de_schad``): an English query word is
stemmed for every language and each variant can only meet articles of its own language, so a
French stem never matches an unrelated English word.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# ISO 639-1 code -> Snowball algorithm.
STEMMERS = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "fi": "finnish",
    "ru": "russian",
}
DEFAULT_LANGUAGE = "xx"  # unknown or unsupported language: folded, not stemmed
STEM_FIELDS = {"title": "title_stem", "description": "description_stem", "body": "body_stem"}

# Letters NFKD does not decompose into a base letter plus a mark.
_FOLD_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
# A word: letters/digits, with apostrophes inside it kept (harbour's, l'eau).
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def fold(text: str) -> str:
    """Lowercase without accents: 'Schäden' -> 'schaden', 'Café' -> 'cafe', 'Straße' -> 'strasse'."""
    text = text.lower().translate(_FOLD_EXTRA)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def language_code(language: str | None) -> str:
    """'en', 'en-GB', 'de_AT' -> 'en', 'de'; anything without a stemmer -> 'xx'."""
    code = (language or "").lower().replace("_", "-").split("-")[0]
    code = {"nb": "no", "nn": "no"}.get(code, code)
    return code if code in STEMMERS else DEFAULT_LANGUAGE


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    """One word folded and stemmed for a language code (see language_code), without its prefix."""
    folded = fold(word).replace("’", "'")
    code = language_code(language)
    if code == "en":
        folded = _english_irregular(folded)
    if code != DEFAULT_LANGUAGE:
        folded = _stemmer(STEMMERS[code]).stemWord(folded)
    # The standard analyzer splits on apostrophes at a word's end and keeps inner ones; drop both
    # so the stored token and the query token are the same single term.
    return folded.replace("'", "")


def _english_irregular(word: str) -> str:
    # Snowball leaves -men plurals alone; 'fishermen' should find 'fisherman'.
    if word in ("women", "men"):
        return word[:-2] + "an"
    if len(word) >= 7 and word.endswith("men"):
        return word[:-3] + "man"
    return word


@lru_cache(maxsize=None)
def _stemmer(algorithm: str):
    import snowballstemmer  # loads every algorithm: only when a word is stemmed

    return snowballstemmer.stemmer(algorithm)


def token(word: str, language: str) -> str:
    """The term stored in a *_stem field: 'strikes', 'en' -> 'en_strike'."""
    return f"{language_code(language)}_{stem(word, language)}"


def stemmed_text(text: str, language: str | None) -> str:
    """A text as its *_stem field holds it: one language-tagged stem per word."""
    code = language_code(language)
    return " ".join(token(w, code) for w in _WORD.findall(text or ""))


def query_tokens(word: str, languages: tuple[str, ...] = ()) -> list[str]:
    """Every form a typed word takes in the *_stem fields: one per language (or per
    the languages the search is limited to), so it meets articles of each language."""
    codes = {language_code(lang) for lang in languages} if languages else {*STEMMERS, DEFAULT_LANGUAGE}
    return sorted({token(w, code) for code in codes for w in _WORD.findall(word)})


def with_stems(document: dict) -> dict:
    """The document with its *_stem fields filled (or refreshed) from its exact fields."""
    language = document.get("language")
    stems = {target: stemmed_text(document.get(source) or "", language) for source, target in STEM_FIELDS.items()}
    return {**document, **stems}
