"""The query language journalists type, and the requests it becomes."""

from datetime import date

import pytest

from search.query import QuerySyntaxError, SearchRequest, build_search_body, normalize_quotes, parse_query


def shape(text: str) -> str:
    """The parsed query, compactly: AND(climate, summit), "a phrase", title:harbour, NOT(x)."""

    def show(node) -> str:
        kind = node[0]
        if kind == "term":
            t = node[1]
            word = f'"{t.text}"' if t.kind == "phrase" else t.text + ("*" if t.kind == "prefix" else "~" if t.kind == "fuzzy" else "")
            return f"{t.field}:{word}" if t.field else word
        if kind == "not":
            return f"NOT({show(node[1])})"
        return f"{kind.upper()}({', '.join(show(c) for c in node[1])})"

    tree = parse_query(text).tree
    return show(tree) if tree else ""


@pytest.mark.parametrize(
    "typed, read",
    [
        ("climate summit", "AND(climate, summit)"),
        ('"harbour authority" closure', 'AND("harbour authority", closure)'),
        ("elect*", "elect*"),
        ("fish OR fishing", "OR(fish, fishing)"),
        ("fish | fishing", "OR(fish, fishing)"),
        ("budget AND tax", "AND(budget, tax)"),
        ("budget + tax", "AND(budget, tax)"),
        ("summit NOT trade", "AND(summit, NOT(trade))"),
        ("summit -trade", "AND(summit, NOT(trade))"),
        ('summit NOT "trade deal"', 'AND(summit, NOT("trade deal"))'),
        ("(tariff OR quota) AND steel", "AND(OR(tariff, quota), steel)"),
        ("harbour tram OR ferry", "OR(AND(harbour, tram), ferry)"),  # AND binds tighter than OR
        ("and or not", "AND(and, or, not)"),  # lowercase words are words
        ("desalination~", "desalination~"),
        ('title:harbour author:"Maren Okafor" site:demo', 'AND(title:harbour, author:"Maren Okafor", site:demo)'),
        ("TITLE:Harb*", "title:Harb*"),
    ],
)
def test_query_language_reads_as_a_journalist_means_it(typed, read):
    assert shape(typed) == read


@pytest.mark.parametrize(
    "typed",
    [
        "“harbour authority confirmed the closure”",  # English
        "„harbour authority confirmed the closure“",  # German
        "« harbour authority confirmed the closure »",  # French
        "‹harbour authority confirmed the closure›",
        "‘harbour authority confirmed the closure’",
        "'harbour authority confirmed the closure'",
    ],
)
def test_typographic_quotes_make_the_same_phrase_as_straight_ones(typed):
    assert shape(typed) == '"harbour authority confirmed the closure"'


def test_an_apostrophe_inside_a_word_stays_in_the_word():
    assert normalize_quotes("the harbour’s closure") == "the harbour’s closure"
    assert shape("fishermen’s ‘harbour authority’ l’eau") == 'AND(fishermen’s, "harbour authority", l’eau)'


def test_lowercase_operators_between_words_are_noted():
    assert parse_query("harbour or tram").lowercase_operators == ("or",)
    assert parse_query("harbour OR tram").lowercase_operators == ()


@pytest.mark.parametrize(
    "typed, hint",
    [
        ('"harbour authority', "unclosed quote"),
        ("“harbour authority", "unclosed quote"),
        ("(tariff OR quota", "never closed"),
        ("tariff)", "never opened"),
        ("AND budget", "both sides"),
        ("budget OR", "both sides"),
        ("summit NOT", "word after"),
        ("e*", "too short"),
        ("desalination~5", "at most 2 edits"),
        ("byline:Okafor", "unknown field 'byline:': use title:, author:"),
        ("harbour & tram", "'&' is not a word: use AND, OR or NOT"),
    ],
)
def test_malformed_queries_get_a_helpful_message(typed, hint):
    with pytest.raises(QuerySyntaxError, match=hint):
        parse_query(typed)


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
    assert {"bool": {"should": [{"terms": {"tags": ["energy"]}}, {"terms": {"section": ["energy"]}}], "minimum_should_match": 1}} in filters
    assert {"terms": {"language": ["en"]}} in filters
    date_range = next(f["range"]["published"] for f in filters if "range" in f)
    assert date_range["gte"] == "2025-01-01" and date_range["lte"] == "2025-12-31"
    assert body["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}
    assert "body" in body["highlight"]["fields"]
    assert set(body["aggs"]) == {"sites", "over_time", "stories", "unstoried"}


def test_title_weighs_more_than_body_and_words_also_match_their_stems():
    body = build_search_body(SearchRequest(text="strikes"))
    exact, stemmed, *tags = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert [next(iter(t["term"])) for t in tags] == ["tags", "section"]  # a plain word is also a tag (ranked lower)
    assert "title^3" in exact["multi_match"]["fields"] and "body" in exact["multi_match"]["fields"]
    assert "body_stem" in stemmed["multi_match"]["fields"]
    assert "en_strike" in stemmed["multi_match"]["query"].split()


def test_phrases_search_only_the_exact_fields():
    body = build_search_body(SearchRequest(text='"harbour authority"'))
    phrase = body["query"]["bool"]["must"][0]["bool"]["should"][0]["multi_match"]
    assert phrase["type"] == "phrase" and not any("_stem" in f for f in phrase["fields"])


def test_inverted_date_range_is_refused():
    with pytest.raises(QuerySyntaxError, match="after"):
        build_search_body(SearchRequest(since=date(2025, 2, 1), until=date(2025, 1, 1)))


def test_no_text_lists_everything_newest_first_without_highlights():
    body = build_search_body(SearchRequest(sort="newest"))
    assert body["query"] == {"match_all": {}}
    assert "highlight" not in body
