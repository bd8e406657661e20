"""Words of any language: tokens for comparing texts, and word counts for ``min_words``.

Chinese and Japanese are written without spaces, so a space-separated count sees a 400-character
article as a handful of "words". Each Han, Hiragana or Katakana character is counted as one
unit instead, as trafilatura's own length settings count characters.
"""

from __future__ import annotations

import re
from collections import Counter

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# One CJK character, or a run of other word characters.
_TOKEN = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; each CJK character is its own token."""
    return _TOKEN.findall(text.lower())


# A word for counting: one CJK character, or a run of anything else between spaces.
_COUNTED = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")


def word_count(text: str) -> int:
    """Words for ``extraction.min_words``: space-separated words, each CJK character one word."""
    return len(_COUNTED.findall(text))


def bag(text: str) -> Counter:
    return Counter(tokens(text))
