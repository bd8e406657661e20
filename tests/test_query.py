"""The query language journalists type, and the requests it becomes."""

from datetime import date

import pytest

from search.query import QuerySyntaxError, SearchRequest, build_search_body, translate_query


@pytest.mark.parametrize(
    "typed, sent",
    [
        ("climate summit", "climate summit"),
        ('"harbour authority" closure', '"harbour authority" closure'),
        ("elect*", "elect*"),
        ("fish OR fishing", "fish | fishing"),
        ("budget AND tax", "budget + tax"),
        ("summit NOT trade", "summit -trade"),
        ('summit NOT "trade deal"', 'summit -"trade deal"'),
        ("(tariff OR quota) AND steel", "( tariff | quota ) + steel"),
        ("and or not", "and or not"),  # lowercase words are words
    ],
)
def test_operators_translate(typed, sent):
    assert translate_query(typed) == sent


@pytest.mark.parametrize(
    "typed, hint",
    [
        ('"harbour authority', "unclosed quote"),
        ("(tariff OR quota", "never closed"),
        ("tariff)", "never opened"),
        ("AND budget", "both sides"),
        ("budget OR", "both sides"),
        ("summit NOT", "word after"),
        ("e*", "too short"),
    ],
)
def test_malformed_queries_get_a_helpful_message(typed, hint):
    with pytest.raises(QuerySyntaxError, match=hint):
        translate_query(typed)


def test_filters_and_sort_become_filters_not_scoring():
    body = build_search_body(
        SearchRequest(
            text="budget",
            sites=("demo",),
            authors=("Mara Lindqvist",),
            tags=("Energy",),
            languages=("EN",),
            since=date(2025, 1, 1),
            until=date(2025, 12, 31),
            sort="newest",
        )
    )
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"site": ["demo"]}} in filters
    assert {"terms": {"tags": ["energy"]}} in filters
    assert {"terms": {"language": ["en"]}} in filters
    date_range = next(f["range"]["published"] for f in filters if "range" in f)
    assert date_range["gte"] == "2025-01-01" and date_range["lte"] == "2025-12-31"
    assert body["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}
    assert "body" in body["highlight"]["fields"]
    assert set(body["aggs"]) == {"sites", "months"}


def test_title_weighs_more_than_body():
    body = build_search_body(SearchRequest(text="budget"))
    fields = body["query"]["bool"]["must"][0]["simple_query_string"]["fields"]
    assert "title^3" in fields and "body" in fields


def test_inverted_date_range_is_refused():
    with pytest.raises(QuerySyntaxError, match="after"):
        build_search_body(SearchRequest(since=date(2025, 2, 1), until=date(2025, 1, 1)))


def test_no_text_lists_everything_newest_first_without_highlights():
    body = build_search_body(SearchRequest(sort="newest"))
    assert body["query"] == {"match_all": {}}
    assert "highlight" not in body
