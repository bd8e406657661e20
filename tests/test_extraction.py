"""The extraction step: HTML page -> article record or a named rejection.

The fixture pages live in tests/fixtures/extraction/ and belong to these tests.
"""

from __future__ import annotations

import json
import pickle
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import trafilatura

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


def page_without_json_ld() -> str:
    html = page("news_article.html")
    start = html.index('<script type="application/ld+json">')
    return html[:start] + html[html.index("</script>", start) + len("</script>"):]


def test_meta_date_is_used_without_json_ld(extractor):
    html = page_without_json_ld()
    article = extractor.extract(html, FETCHED)
    assert article.published == "2019-04-24T09:15:00+00:00"
    assert article.published_source == "meta:article:published_time"
    assert article.modified is None  # no dateModified anywhere: not invented


def test_dates_are_read_beside_attributes_xml_would_refuse(extractor):
    # Front-end frameworks write attribute names such as "v-bind:title" or "@click", which the
    # HTML parser keeps and an XML element refuses: the dates beside them are still read.
    html = page_without_json_ld()
    html = html.replace('<meta property="article:published_time"',
                        '<meta v-bind:title="when" @click="open" property="article:published_time"', 1)
    assert 'v-bind:title="when"' in html
    article = extractor.extract(html, FETCHED)
    assert article.published == "2019-04-24T09:15:00+00:00"
    assert article.published_source == "meta:article:published_time"


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
        "redirect-loop", "redirect-offsite", "sitemap-too-large", "extraction-timeout", "robots-unreadable",
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


# --- short briefs and stubs (crawler/signals.py) ------------------------------------------------

def test_a_short_brief_with_json_ld_is_archived_and_flagged_short(extractor):
    article = extractor.extract(page("brief_jsonld.html"), "https://news.example.com/2024/03/05/ferry-resumes")
    assert 15 <= article.word_count < 60
    assert article.body.startswith("The morning ferry between Lenmouth and Harwick sailed again")
    assert article.short is True and article.to_document()["short"] is True
    assert article.published == "2024-03-05T07:10:00+00:00"


def test_a_short_brief_in_an_article_element_with_a_time_is_archived(extractor):
    article = extractor.extract(page("brief_article_element.html"), "https://news.example.com/2024/04/11/night-bus")
    assert 15 <= article.word_count < 60 and article.short is True
    assert "six-month trial of two night bus routes" in article.body
    assert article.published_source == "time-element"


def test_a_full_article_is_not_flagged_short(article):
    assert article.short is False and article.to_document()["short"] is False


def test_an_undated_live_placeholder_is_too_short(extractor):
    # Like the demo site's trap: og:type article, an <article> with a headline, 20 words, no date.
    with pytest.raises(Rejected) as caught:
        extractor.extract(page("live_placeholder.html"), "https://news.example.com/2025/07/19/live-budget-vote")
    assert caught.value.reason is Reason.TOO_SHORT
    assert "20 words" in caught.value.detail and "no publication date" in caught.value.detail


@pytest.mark.parametrize("related", ["list", "divs"])
def test_an_empty_article_template_with_related_stories_is_not_archived(extractor, related):
    html = page("empty_template.html")
    if related == "divs":  # not a list of links: the related text reaches the extractor
        html = html.replace("<ul>", "<div>").replace("</ul>", "</div>").replace("<li>", "<div>").replace("</li>", "</div>")
    with pytest.raises(Rejected) as caught:
        extractor.extract(html, "https://news.example.com/2024/05/02/port-strike-talks")
    assert caught.value.reason in (Reason.TOO_SHORT, Reason.NOT_ARTICLE), caught.value


def test_a_brief_of_only_placeholder_sentences_is_too_short_even_when_dated(extractor):
    html = page("live_placeholder.html").replace(
        '<meta property="og:type" content="article">',
        '<meta property="og:type" content="article"><meta property="article:published_time" content="2025-07-19T16:00:00Z">',
    ).replace("at seven o'clock.", "at seven o'clock, with reports from the chamber and reaction from all parties.")
    with pytest.raises(Rejected) as caught:
        extractor.extract(html, "https://news.example.com/2025/07/19/live-budget-vote")
    assert caught.value.reason is Reason.TOO_SHORT
    assert "placeholder" in caught.value.detail


# --- the page's own body (crawler/body.py) ----------------------------------------------------

def test_json_ld_article_body_much_longer_than_the_visible_text_is_kept(extractor):
    article = extractor.extract(page("paywalled.html"), "https://business.example.com/2023/09/14/northmere-grid")
    assert article.body_source == "json-ld"
    assert article.word_count > 200 and article.short is False
    assert "Shares in Northmere rose by four per cent" in article.body  # the last, paywalled paragraph
    assert len(article.body.split("\n\n")) == 5
    assert "Subscribe" not in article.body


def test_a_json_ld_summary_shorter_than_the_page_does_not_replace_the_body(extractor, article):
    html = page("news_article.html").replace(
        '"@type": "NewsArticle",', '"@type": "NewsArticle", "articleBody": "Kim arrived in Vladivostok.",', 1)
    assert '"articleBody"' in html
    again = extractor.extract(html, FETCHED)
    assert again.body == article.body and again.body_source == "trafilatura"


def test_trafilatura_runs_once_per_page(extractor, monkeypatch):
    import trafilatura

    calls = []
    real = trafilatura.bare_extraction
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *a, **k: calls.append(1) or real(*a, **k))
    extractor.extract(page("news_article.html"), FETCHED)
    assert len(calls) == 1


def test_extractor_and_article_survive_pickling_for_worker_processes(extractor, article):
    copied = pickle.loads(pickle.dumps(extractor))
    assert copied.extract(page("news_article.html"), FETCHED) == article
    assert pickle.loads(pickle.dumps(article)) == article


# --- dates (crawler/dates.py; parsing rules in tests/test_dates.py) -------------------------------

PROSE_URL = "https://news.example.com/news/water-company-fined"


def test_year_one_in_json_ld_is_discarded_for_the_visible_prose_date_with_its_zone(extractor):
    article = extractor.extract(page("prose_dates.html"), PROSE_URL)
    # "November 19, 2019, 07:47 PM EST" is 00:47 UTC the next day
    assert datetime.fromisoformat(article.published) == datetime(2019, 11, 20, 0, 47, tzinfo=timezone.utc)
    assert article.published_source == "text"
    assert article.modified is None  # dateModified was year 1 too: no date rather than a wrong one


def test_a_far_future_date_is_discarded_for_the_next_source(extractor):
    html = page("prose_dates.html").replace('"datePublished": "0001-01-01T00:00:00Z"', '"datePublished": "2099-01-01T00:00:00Z"')
    article = extractor.extract(html, PROSE_URL)
    assert article.published_source == "text" and article.published.startswith("2019-11-19T19:47")


def test_a_correct_meta_wins_over_a_broken_json_ld_and_the_visible_text(extractor):
    html = page("prose_dates.html").replace(
        '<meta property="og:type" content="article">',
        '<meta property="og:type" content="article"><meta property="article:published_time" content="2019-11-20T00:50:00Z">')
    article = extractor.extract(html, PROSE_URL)
    assert article.published == "2019-11-20T00:50:00+00:00" and article.published_source == "meta:article:published_time"


def test_a_url_day_is_refined_by_a_dateline_time_on_the_same_day(extractor):
    html = page("prose_dates.html").replace('"datePublished": "0001-01-01T00:00:00Z", ', "")
    html = html.replace("Published November 19, 2019, 07:47 PM EST", "Published 07:47 PM EST Nov 19, 2019")
    article = extractor.extract(html, "https://news.example.com/2019/11/19/water-company-fined")
    assert datetime.fromisoformat(article.published) == datetime(2019, 11, 20, 0, 47, tzinfo=timezone.utc)
    without_dateline = extractor.extract(html.replace("Published 07:47 PM EST Nov 19, 2019", ""),
                                         "https://news.example.com/2019/11/19/water-company-fined")
    assert without_dateline.published == "2019-11-19" and without_dateline.published_source == "url"


def test_short_articles_can_be_switched_off():
    strict = ArticleExtractor(ExtractionSettings(keep_short_articles=False))
    with pytest.raises(Rejected) as caught:
        strict.extract(page("brief_jsonld.html"), "https://news.example.com/2024/03/05/ferry-resumes")
    assert caught.value.reason is Reason.TOO_SHORT


def test_an_article_whose_article_element_holds_only_the_header_is_archived(extractor):
    # Some CMSs wrap only the headline in <article>; the story follows it in a sibling element.
    html = page("prose_dates.html").replace('</div>\n      <div class="article-body">', '</div></article>\n      <div class="article-body">')
    html = html.replace("</div>\n    </article>", "</div>")
    assert html.count("</article>") == 1 and html.index("</article>") < html.index("article-body")
    article = extractor.extract(html, PROSE_URL)
    assert article.word_count > 60 and "Customers will not pay for the fine" in article.body


# --- pages nobody tuned for: language, layout, misfiring rules ---------------------------------

def test_a_chinese_article_of_400_characters_is_kept(extractor):
    # No spaces between words: counted by characters, it is a full article, not a 5-word stub.
    article = extractor.extract(page("chinese_article.html"), "https://news.example.cn/2025/03/04/desalination.html")
    assert article.word_count >= 400 and not article.short
    assert article.language == "zh"
    assert "每天可以生产十二万吨淡水" in article.body and "珍惜每一滴水" in article.body
    assert "版权所有" not in article.body


def test_word_counts_treat_cjk_characters_as_words():
    from crawler.text import word_count

    assert word_count("The harbour closed at noon.") == 5
    assert word_count("海水淡化厂 opened 今日") == 5 + 1 + 2


def test_a_news_page_saying_og_type_website_with_teaser_rails_is_kept(extractor):
    # og:type website and seven linked headlines in the rails: every news page has those.
    article = extractor.extract(page("website_with_rails.html"),
                                "https://coastline.example.net/news/ferry-winter-timetable-cancelled-4411")
    assert article.body.startswith("The island ferry operator has cancelled its winter timetable")
    assert "compensation for season-ticket holders" in article.body
    for rail in ("Harbour dredging starts", "Storm warning issued", "Rowing club wins"):
        assert rail not in article.body


def test_a_chrome_rule_that_hits_the_article_keeps_trafilaturas_text(extractor):
    # The last two paragraphs sit in a box whose class says "read-more": a chrome word. Pruning
    # them would keep 60% of the article; the scorer keeps trafilatura's whole text instead.
    html = page("website_with_rails.html")
    html = html.replace("<p>The regional transport authority", '<div class="read-more-box"><p>The regional transport authority')
    html = html.replace("who cannot travel.</p>", "who cannot travel.</p></div>")
    article = extractor.extract(html, "https://coastline.example.net/news/ferry-winter-timetable-cancelled-4411")
    assert "examining whether the operator had kept the fleet" in article.body
    assert "compensation for season-ticket holders" in article.body
    assert article.body_source == "trafilatura"
    assert article.body_candidates["trafilatura-pruned"] < article.body_candidates["trafilatura"]


def test_each_article_stores_how_its_text_was_chosen_and_a_confidence(article):
    doc = article.to_document()
    assert doc["body_source"] == "trafilatura" and 0 < doc["confidence"] <= 1
    assert doc["body_candidates"]["trafilatura"] == article.word_count


# --- story cards and the readability reading ------------------------------------------------------

CARDS = [
    ("Storm warning issued for the whole coast tonight",
     "Forecasters expect gusts of up to ninety kilometres an hour along the exposed headlands, and the coastguard "
     "has asked owners of small boats to bring them ashore before the evening high tide arrives."),
    ("Lifeboat crew rescue two kayakers off the point",
     "The two paddlers had been swept past the lighthouse by a strong ebb current and spent almost an hour in cold "
     "water before a passing fishing boat spotted them and called for help."),
    ("Fish market prices climb as boats stay in port",
     "Traders at the harbour auction said cod and haddock had reached their highest prices for three winters, with "
     "restaurants on the mainland buying whatever the few working boats could land."),
    ("Rowing club wins the county cup for a third year",
     "The crew of eight, coached by a retired ferry captain, finished two lengths clear of the city team in the "
     "final and now hopes to enter the national championship in the spring."),
]
FERRY_URL = "https://coastline.example.net/news/ferry-winter-timetable-cancelled-4411"


def with_story_cards(html: str) -> str:
    """A stream of story cards (image link, linked headline, summary) right after the article's text."""
    cards = "".join(f'<li><a href="/news/{i}"><img src="/img/{i}.jpg" alt=""></a><div><h3><a href="/news/{i}">{headline}'
                    f'</a></h3><p>{summary}</p></div></li>' for i, (headline, summary) in enumerate(CARDS))
    return html.replace("who cannot travel.</p>\n  </div>", f'who cannot travel.</p>\n<div><ul class="stream">{cards}</ul></div>\n  </div>')


def test_a_stream_of_story_cards_is_read_as_chrome_and_no_second_reading_means_trafilaturas_text(extractor):
    html = with_story_cards(page("website_with_rails.html"))
    article = extractor.extract(html, FERRY_URL)
    plain = extractor.extract(page("website_with_rails.html"), FERRY_URL)
    # The pruned reading is exactly the article: every card's summary is recognised as a teaser...
    assert article.body_candidates["trafilatura-pruned"] == plain.word_count
    # ...but readability keeps the summaries too, so nothing confirms the smaller text: the guard
    # keeps trafilatura's whole text rather than trust one rule.
    assert article.body_source == "trafilatura" and CARDS[0][1] in article.body


def test_section_headings_with_anchor_links_are_not_story_cards(extractor):
    # Documentation-style headings carry a "¶" link; an article made of such sections is prose.
    sections = "".join(f'<section><h2>Section number {n} of the guide<a href="#s{n}">¶</a></h2><p>{"Paragraph text of the guide section. " * 12}</p></section>'
                       for n in range(4))
    html = f"<html><head><title>A guide</title></head><body><div>{sections}</div></body></html>"
    article = extractor.extract(html, "https://docs.example.org/guide/intro")
    assert "trafilatura-pruned" not in article.body_candidates
    assert article.body.count("Paragraph text of the guide section.") == 48


def test_readability_is_read_once_per_page_from_trafilaturas_own_run(extractor, monkeypatch):
    from trafilatura.readability_lxml import Document

    calls = []
    real = Document.summary
    monkeypatch.setattr(Document, "summary", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    article = extractor.extract(with_story_cards(page("website_with_rails.html")), FERRY_URL)
    assert len(calls) == 1
    assert article.body_candidates["readability"] > article.body_candidates["trafilatura-pruned"]


def test_a_line_break_inside_a_paragraph_separates_its_words():
    from lxml.html import fromstring

    from crawler.body import container_paragraphs

    article = fromstring("<article><p>June 9 -- West Palm Beach, Florida<br>June 10 -- Tampa, Florida</p></article>")
    assert container_paragraphs(article) == ["June 9 -- West Palm Beach, Florida June 10 -- Tampa, Florida"]


# --- a lead paragraph trafilatura skips ------------------------------------------------------------

LEAD = "Three fishermen were rescued on Sunday after their trawler ran aground on the reef off the northern headland in a storm."
CAPTION = "The stranded trawler lies on its side on the reef below the lighthouse as the tide goes out on Sunday morning."
TRAWLER_URL = "https://coast.example.net/news/trawler-rescue"


def trawler_page(before_text: str = "", in_text: str = "") -> str:
    paragraphs = "".join(f"<p>Paragraph {i} of the report: the coastguard said the crew had radioed for help shortly after "
                         f"midnight, and a lifeboat reached the stranded boat within the hour despite the heavy swell {i}.</p>"
                         for i in range(8))
    return ('<html><head><title>Trawler crew rescued off the headland</title><meta property="og:type" content="article">'
            '</head><body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header><main><article>'
            '<h1>Trawler crew rescued off the headland</h1><div class="meta"><span class="author">By Ann Reporter</span></div>'
            f'{before_text}<div class="article__text">{in_text}{paragraphs}</div></article></main><footer>Copyright</footer></body></html>')


def test_a_lead_paragraph_in_a_box_of_its_own_is_kept_before_the_text(extractor):
    html = trawler_page(f'<div class="article__summary summary">{LEAD}</div>')
    assert LEAD not in trafilatura.extract(html, include_comments=False)  # the library skips it
    article = extractor.extract(html, TRAWLER_URL)
    assert article.body.startswith(LEAD + "\n\nParagraph 0 of the report")
    assert article.body_source == "trafilatura+readability"


def test_a_caption_only_the_readability_reading_holds_is_not_added(extractor):
    html = trawler_page(in_text=f'<figure><img src="/trawler.jpg"><figcaption>{CAPTION}</figcaption></figure>')
    article = extractor.extract(html, TRAWLER_URL)
    assert article.body_candidates["readability"] > article.body_candidates["trafilatura"]  # it has the caption
    assert CAPTION not in article.body and article.body_source == "trafilatura"


def test_formulas_without_latex_source_keep_their_text(extractor):
    # MathJax 3 prints MathML inside custom elements, with no LaTeX source: trafilatura drops the
    # formula, and a displayed one between paragraphs whole.
    article = extractor.extract(page("formulas_article.html"), "https://science.example.org/2026/11/20/shorter-proof")
    assert "When a ≠ 0 , the equation has two solutions" in article.body
    assert "| x | ≤ 1 + max k" in article.body.split("\n\n")
    assert "both lie within a distance of the origin" in article.body
    assert "published a proof that fits on a single page" in article.body
    assert "The Science Desk" not in article.body


def test_custom_elements_holding_no_block_read_as_inline_text():
    from lxml.html import fromstring

    from crawler.markup import inline_custom_elements

    tree = fromstring("<html><body><article><p>One.</p><story-note>Loose words</story-note> after it."
                      "<story-body><p>A paragraph inside.</p></story-body>"
                      "<svg><font-face></font-face></svg></article></body></html>")
    assert inline_custom_elements(tree) == 1
    assert tree.find(".//span").text == "Loose words" and tree.find(".//span").tail == " after it."
    assert tree.find(".//story-body/p").text == "A paragraph inside."  # trafilatura reads blocks inside
    assert tree.find(".//svg/font-face") is not None


def test_a_page_laid_out_in_a_table_keeps_its_paragraphs_and_its_data_table(extractor):
    # The whole page is one table row (navigation cell, article cell) with a data table nested in
    # the article: read as a table, the article is a single line beside the navigation.
    article = extractor.extract(page("layout_table_article.html"), "https://valley.example.org/2026/10/14/repair-figures")
    paragraphs = article.body.split("\n\n")
    assert paragraphs[0].startswith("The county council has published how many road repairs")
    assert any(p.startswith("The northern districts waited longest") for p in paragraphs)
    assert any("Northmoor" in p and "46%" in p for p in paragraphs)  # the figures stay a table row
    assert paragraphs[-1].endswith("put to the budget meeting.")
    assert "Front page" not in article.body and "Copyright" not in article.body


def test_an_attackers_huge_formula_is_cut_at_the_body_limit_and_flagged_and_the_article_kept():
    # Made plain, markup adds text: a formula of 300,000 characters, 20,000 custom elements and
    # tables nested 200 deep. The body stops at its byte limit and says so; the article is whole.
    html = page("formulas_article.html")
    attack = ("<math display='block'>" + "<mi>x</mi><mo>+</mo>" * 75_000 + "</math>"
              + "<story-note>padding</story-note> " * 20_000
              + "<table><tr><td>" * 200 + "deep" + "</td></tr></table>" * 200)
    html = html.replace("<p>Their argument needs nothing", attack + "<p>Their argument needs nothing")
    article = ArticleExtractor(ExtractionSettings(max_body_bytes=50_000)).extract(
        html, "https://science.example.org/2026/11/20/shorter-proof")
    assert article.body.startswith("Two students at the regional university have published a proof")
    assert "When a ≠ 0 , the equation has two solutions" in article.body
    assert article.body_truncated and len(article.body.encode("utf-8")) <= 50_000
