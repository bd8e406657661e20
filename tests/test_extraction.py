"""The extraction step: HTML page -> article record or a named rejection.

The fixture pages live in tests/fixtures/extraction/ and belong to these tests.
"""

from __future__ import annotations

import json
import pickle
from datetime import date
from pathlib import Path

import pytest

from archive.config import ExtractionSettings
from crawler.extraction import ArticleExtractor, ExtractedArticle, split_authors, truncate_utf8
from crawler.rejections import ALL_REASONS, Reason, Rejected

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
MAPPING = Path(__file__).parent.parent / "search" / "definitions" / "articles.json"
FETCHED = "https://news.example.com/2019/04/24/kim-arrives-in-vladivostok/?utm_source=feed"


def page(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def extractor() -> ArticleExtractor:
    return ArticleExtractor(ExtractionSettings())


@pytest.fixture(scope="module")
def article(extractor) -> ExtractedArticle:
    return extractor.extract(page("news_article.html"), FETCHED)


# --- a full news article ----------------------------------------------------------------------

ARTICLE_PARAGRAPHS = [
    "North Korean leader Kim Jong Un arrived in Russia’s Pacific port city of Vladivostok on Wednesday",
    "The talks, organised in secret and announced at the last minute",
    "Kim’s armoured train arrived in the afternoon at the Tsarist-era train station",
    "“I hope that this visit will be successful and useful,” Kim told Russian television",
    "Moscow was a crucial backer of Pyongyang for decades",
    "China has since cemented its role as the isolated North’s most important ally",
]

CHROME = {
    "caption / photo credit": "Zemlianichenko",
    "caption text": "are due to hold talks in Vladivostok",
    "newsletter box": "Sign up for our free daily newsletter",
    "newsletter heading": "Morning Briefing",
    "related stories heading": "Related stories",
    "related teaser": "blistering attack on Pompeo",
    "teaser link": "Continue Reading",
    "corrections line": "Report typos and corrections",
    "social block": "Connect with us",
    "share buttons": "Share this article",
    "breaking banner": "Breaking Banner",
    "comment": "mark my words",
    "comment author": "greg_1987",
    "footer": "All rights reserved",
    "footer address": "Press Street",
    "byline": "By Maria Petrova",
}


def test_article_body_keeps_every_paragraph_in_order(article):
    positions = [article.body.find(p) for p in ARTICLE_PARAGRAPHS]
    assert -1 not in positions, article.body
    assert positions == sorted(positions)


@pytest.mark.parametrize("what", sorted(CHROME))
def test_article_body_has_no_page_chrome(article, what):
    assert CHROME[what] not in article.body


def test_article_body_is_plain_text_paragraphs(article):
    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) == len(ARTICLE_PARAGRAPHS)
    assert all(p.strip() == p and "\n" not in p and "<" not in p for p in paragraphs)
    assert article.title not in article.body  # the headline is its own field


def test_article_metadata(article):
    assert article.title == "North Korea’s Kim arrives in Russia’s Vladivostok for Putin summit"
    assert article.authors == ["Maria Petrova", "Daniel Okafor"]
    assert article.canonical_url == "https://news.example.com/2019/04/24/kim-arrives-in-vladivostok/"
    assert article.hostname == "news.example.com"
    assert article.section == "World"
    assert article.language == "en"
    assert article.description.startswith("Kim Jong Un arrived in Vladivostok")
    assert article.image == "https://news.example.com/media/2019/04/kim-train.jpg"
    assert article.word_count == len(article.body.split())
    assert article.body_truncated is False


def test_article_dates_come_from_json_ld_first(article):
    # JSON-LD says 09:12, the article:published_time meta 09:15: JSON-LD wins and says so.
    assert article.published == "2019-04-24T09:12:00+00:00"
    assert article.published_source == "json-ld"
    assert article.modified == "2019-04-24T16:40:00+00:00"
    assert article.modified_source == "json-ld"


def test_article_tags_merged_without_duplicates(article):
    assert article.tags[:2] == ["North Korea", "Russia"]  # article:tag metas, in page order
    assert {"Kim Jong Un", "Vladimir Putin"} <= set(article.tags)  # JSON-LD keywords
    assert len({t.casefold() for t in article.tags}) == len(article.tags)


def test_meta_date_is_used_without_json_ld(extractor):
    html = page("news_article.html")
    start = html.index('<script type="application/ld+json">')
    html = html[:start] + html[html.index("</script>", start) + len("</script>"):]
    article = extractor.extract(html, FETCHED)
    assert article.published == "2019-04-24T09:15:00+00:00"
    assert article.published_source == "meta:article:published_time"
    assert article.modified is None  # no dateModified anywhere: not invented


def test_content_hash_ignores_whitespace_but_not_words(extractor, article):
    html = page("news_article.html")
    respaced = extractor.extract(html.replace("<p>China has", "<p>\n   China   has"), FETCHED)
    edited = extractor.extract(html.replace("crucial fuel supplier", "main fuel supplier"), FETCHED)
    assert respaced.content_hash == article.content_hash
    assert edited.content_hash != article.content_hash
    assert len(article.content_hash) == 64


def test_to_document_uses_the_index_field_names(article):
    doc = article.to_document()
    mapped = set(json.loads(MAPPING.read_text(encoding="utf-8"))["mappings"]["properties"])
    assert set(doc) <= mapped, set(doc) - mapped
    assert doc["url"] == article.canonical_url
    assert doc["hostname"] == "news.example.com"
    assert doc["published"] == "2019-04-24T09:12:00+00:00"
    assert doc["body"] == article.body
    json.dumps(doc)  # serialisable as is


# --- canonical URL ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "canonical",
    ["javascript:void(0)", "ftp://news.example.com/a", "https://news.example.com/"],
    ids=["javascript", "ftp", "home-page"],
)
def test_untrustworthy_canonical_falls_back_to_the_fetched_url(extractor, canonical):
    html = page("news_article.html").replace(
        "https://news.example.com/2019/04/24/kim-arrives-in-vladivostok/", canonical
    )
    assert extractor.extract(html, FETCHED).canonical_url == FETCHED


def test_relative_canonical_is_resolved(extractor):
    html = page("news_article.html").replace(
        "https://news.example.com/2019/04/24/kim-arrives-in-vladivostok/", "/2019/04/24/kim/"
    )
    assert extractor.extract(html, FETCHED).canonical_url == "https://news.example.com/2019/04/24/kim/"


# --- no date ----------------------------------------------------------------------------------

def test_page_without_date_has_no_published_date(extractor):
    article = extractor.extract(page("undated_post.html"), "https://blog.example.de/strassenbahn-nord")
    # Neither the crawl date nor the footer's "© 2025" (htmldate would guess 2025-01-01).
    assert article.published is None and article.published_source is None
    assert article.modified is None
    assert date.today().isoformat() not in article.to_document().values()
    assert article.title == "Warum die Straßenbahn nach Norden verlängert wird"
    assert article.authors == ["Jonas Müller"]
    assert article.language == "de"
    assert article.canonical_url == "https://blog.example.de/strassenbahn-nord"
    assert article.body.startswith("Die Stadt will die Straßenbahnlinie 4")  # byline line dropped
    assert "Impressum" not in article.body


# --- rejections -------------------------------------------------------------------------------

def test_section_page_of_teasers_is_not_an_article(extractor):
    with pytest.raises(Rejected) as caught:
        extractor.extract(page("section_listing.html"), "https://news.example.com/section/world/")
    assert caught.value.reason is Reason.NOT_ARTICLE
    assert caught.value.stats_key == "rejected/not-article"
    assert "listing" in caught.value.detail


def test_stub_is_too_short(extractor):
    with pytest.raises(Rejected) as caught:
        extractor.extract(page("stub.html"), "https://news.example.com/2019/04/25/harbour-fire/")
    assert caught.value.reason is Reason.TOO_SHORT
    assert "21 words" in caught.value.detail and "60" in caught.value.detail


def test_min_words_comes_from_the_settings():
    lenient = ArticleExtractor(ExtractionSettings(min_words=10))
    article = lenient.extract(page("stub.html"), "https://news.example.com/2019/04/25/harbour-fire/")
    assert article.published == "2019-04-25T06:02:00+00:00"
    assert article.published_source == "meta:article:published_time"


def test_page_without_title_is_rejected(extractor):
    with pytest.raises(Rejected) as caught:
        extractor.extract(page("untitled.html"), "https://news.example.com/2019/04/23/tram/")
    assert caught.value.reason is Reason.NO_TITLE


@pytest.mark.parametrize(
    "html",
    ["", b"", "   ", b"\x00\x01\x02\xff\xfe", "<html><body></body></html>", "just some words, no markup"],
    ids=["empty-str", "empty-bytes", "blank", "binary", "empty-body", "plain-text"],
)
def test_junk_is_rejected_with_a_reason_never_an_exception(extractor, html):
    with pytest.raises(Rejected) as caught:
        extractor.extract(html, "https://news.example.com/x")
    assert caught.value.reason.value in ALL_REASONS


def test_bytes_input_is_decoded(extractor, article):
    from_bytes = extractor.extract(page("news_article.html").encode("utf-8"), FETCHED)
    assert from_bytes.title == article.title and from_bytes.body == article.body


# --- truncation -------------------------------------------------------------------------------

def long_page(paragraphs: int) -> str:
    paras = "".join(
        f"<p>Absatz {i}: Zürich, São Paulo und Kraków — 東京の記者が報告します, naïve café façades, €{i} each, 🚋 tram.</p>"
        for i in range(paragraphs)
    )
    return page("undated_post.html").replace("</article>", paras + "</article>")


def test_huge_body_is_cut_on_a_utf8_boundary_and_flagged():
    url = "https://blog.example.de/lang"
    full = ArticleExtractor(ExtractionSettings()).extract(long_page(400), url)
    assert not full.body_truncated
    raw = full.body.encode("utf-8")
    # a limit that falls inside a multi-byte character (a continuation byte follows it)
    limit = next(i for i in range(20_000, len(raw)) if raw[i] & 0xC0 == 0x80)
    cut = ArticleExtractor(ExtractionSettings(max_body_bytes=limit)).extract(long_page(400), url)
    assert cut.body_truncated is True
    stored = cut.body.encode("utf-8")
    assert limit - 4 < len(stored) <= limit
    assert full.body.startswith(cut.body)  # a clean prefix: no broken or replaced character
    assert "\ufffd" not in cut.body
    # the record still describes the whole article
    assert cut.word_count == full.word_count and cut.content_hash == full.content_hash
    assert cut.to_document()["body_truncated"] is True


def test_truncate_utf8_never_splits_a_character():
    text = "aé東🚋" * 10
    for limit in range(0, len(text.encode("utf-8")) + 2):
        cut, truncated = truncate_utf8(text, limit)
        assert len(cut.encode("utf-8")) <= limit and text.startswith(cut)
        assert truncated == (len(text.encode("utf-8")) > limit)


# --- small parts ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Maria Petrova; Daniel Okafor", ["Maria Petrova", "Daniel Okafor"]),
        ("By Maria Petrova and Daniel Okafor", ["Maria Petrova", "Daniel Okafor"]),
        ("by Jane Doe", ["Jane Doe"]),
        ("Jane Doe; jane doe", ["Jane Doe"]),
        (None, []),
    ],
)
def test_split_authors(raw, expected):
    assert split_authors(raw) == expected


def test_rejection_reasons_are_the_named_counters():
    assert set(ALL_REASONS) == {
        "not-article", "too-short", "no-title", "duplicate", "robots", "offsite", "non-html",
        "too-large", "http-error", "too-deep", "too-old", "network-error", "extraction-error", "known-bad",
    }
    rejected = Rejected("too-short", "12 words")
    assert rejected.reason is Reason.TOO_SHORT and str(rejected.reason) == "too-short"
    assert str(rejected) == "too-short: 12 words"
    assert pickle.loads(pickle.dumps(rejected)).detail == "12 words"
    with pytest.raises(ValueError):
        Rejected("too-shrt")


def test_language_is_detected_when_the_page_declares_none(extractor):
    html = page("undated_post.html").replace('<html lang="de">', "<html>")
    assert '<html lang' not in html
    article = extractor.extract(html, "https://blog.example.de/strassenbahn-nord")
    assert article.language == "de"  # from the German text itself
