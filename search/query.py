"""Journalists' queries → Elasticsearch requests.

The query language (parse_query reads it, build_query turns it into a bool query):

    climate summit            both words (AND is the default), inflected forms too
    "harbour authority"       the exact phrase (also “…”, „…“, «…», ‹…›, ‘…’)
    "harbour closure"~3       the words within 3 positions of each other
    elect*                    words starting with 'elect'
    desalnation~              fuzzy: words one or two edits away (~1, ~2 to choose)
    fish OR fishing           either (also |); AND (also +) binds tighter than OR
    summit NOT trade          without the word (also -trade)
    (tariff OR quota) steel   grouping
    title:harbour  author:"Maren Okafor"  site:demo  tag:energy  lang:de  section:politics
                              a word, phrase or prefix in one field; a filter on a value

A plain word matches its exact form in title, authors, description and body, and its folded,
stemmed form (search/analysis.py) in the *_stem fields, so 'strikes' finds 'strike' and
'Schaden' finds 'Schäden'; an exact match scores on both and ranks first. Phrases stay on the
exact fields. What would silently mean something else (an unclosed quote or parenthesis, a
dangling operator, an unknown field) is refused with a message that says how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from archive.config import SearchSettings
from archive.text import HIGHLIGHT_END, HIGHLIGHT_START
from search.analysis import DEFAULT_LANGUAGE, STEMMERS, fold, query_tokens, stem

SEARCH_FIELDS = ["title^3", "authors^2", "description^1.5", "body"]
STEM_SEARCH_FIELDS = ["title_stem^3", "description_stem^1.5", "body_stem"]
HIGHLIGHT_FIELDS = ("title", "body")
TAG_BOOST = 0.5  # a word that is only a tag ranks below one in the body
SORTS = {
    "relevance": [{"_score": "desc"}, {"published": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
    "newest": [{"published": {"order": "desc", "missing": "_last"}}, {"url": "asc"}],
    "oldest": [{"published": {"order": "asc", "missing": "_last"}}, {"url": "asc"}],
}
COPIES_LISTED = 20  # copies a collapsed hit names (its sites are counted among these)
COPY_ORDER = [{"display_date": {"order": "asc", "missing": "_last"}}, {"url": "asc"}]  # the earliest copy first
INTERVALS = ("day", "week", "month")
SAMPLE_SEED = 20  # the same sample on every page of a search, so its estimates do not change while paging
# Earlier versions share their article's URL: the capture time keeps search_after's order total.
EARLIER_TIEBREAK = {"captured_at": {"order": "asc", "missing": "_first"}}
# Private-use characters around each match (archive/text.py): a literal <mark> in a crawled
# body stays text; pages turn only these into <mark>, the JSON API writes them as <mark>.
MARK_PRE, MARK_POST = HIGHLIGHT_START, HIGHLIGHT_END


def mark_tags(snippet: str) -> str:
    """A highlighted snippet with <mark>…</mark> around matches, as the JSON API and exports give it."""
    return snippet.replace(MARK_PRE, "<mark>").replace(MARK_POST, "</mark>")


def unmarked(snippet: str) -> str:
    """A highlighted snippet as plain text (exports, feeds, e-mail): markers out, spaces folded."""
    return " ".join(snippet.replace(MARK_PRE, "").replace(MARK_POST, "").split())

# field prefix -> (exact fields, stemmed fields) for text; None for keyword filters
TEXT_FIELDS = {
    "title": (["title"], ["title_stem"]),
    "body": (["body"], ["body_stem"]),
    "description": (["description"], ["description_stem"]),
    "author": (["authors"], []),
    "authors": (["authors"], []),
}
KEYWORD_FIELDS = {"site": "site", "tag": "tags", "tags": "tags", "section": "section", "lang": "language", "language": "language"}
FIELD_NAMES = "title:, author:, body:, description:, site:, tag:, section:, lang:"

# Typographic double quotes, any language's convention, delimit phrases like ".
_DOUBLE_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»‹›〝〞＂"})
# Single quotes delimit a phrase only around words ('harbour authority', ‘…’, ‚…‘); an
# apostrophe inside a word (harbour’s, l’eau) stays part of it.
_SINGLE_QUOTED = re.compile(r"(?<![\w])[‘'‚‛]([^‘’'\"\n]+?)[’'‘](?![\w])")
_FIELD = re.compile(r"([A-Za-z]+):(?=\S)")
_WORD = re.compile(r'[^\s()"|]+')
_FUZZY = re.compile(r"^(.*\w)~([0-9]*)$")
_SLOP = re.compile(r"~([0-9]*)")


class QuerySyntaxError(ValueError):
    """The query cannot be read as the journalist meant it; the message says how to fix it."""


def check_size(text: str, limits: SearchSettings) -> None:
    """Refuse a query too long to be a journalist's, before parsing it (search.* settings)."""
    if len(text) > limits.max_query_chars:
        raise QuerySyntaxError(
            f"the query has {len(text):,} characters; the limit is {limits.max_query_chars:,} (search.max_query_chars): shorten it"
        )
    terms = len(text.split())
    if terms > limits.max_query_terms:
        raise QuerySyntaxError(
            f"the query has {terms:,} terms; the limit is {limits.max_query_terms:,} (search.max_query_terms): "
            "split it into several searches"
        )


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    sites: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    edited: bool = False
    briefs: bool = True  # False: leave out very short articles (news briefs, flagged short: true)
    sort: str = "relevance"
    size: int = 10
    search_after: tuple | None = None
    facets: bool = True
    highlight: bool = True
    fields: tuple[str, ...] | None = None  # _source fields; None = all but the body
    with_body: bool = False  # include the article text in each hit (exports)
    include_earlier: bool = False  # also search earlier versions (service.search picks the indices)
    # The languages a typed word is stemmed for when `languages` does not limit the search: those
    # the archive holds (service.search fills them in); empty: every supported language.
    stem_languages: tuple[str, ...] = ()
    all_copies: bool = False  # every copy of a story, rather than one hit per story (search/stories.py)
    interval: str = "month"  # the coverage chart's bars: day, week or month (search/coverage.py)
    compare: tuple[str, ...] = ()  # other queries counted over time beside this one, same filters
    # The facets (sites, over time) counted on this share of the matches, estimates scaled up
    # (0: every match, exact). service.search sets it when a search may match many.
    facet_sample: float = 0.0
    limits: SearchSettings = SearchSettings()  # settings.search: how large a query may be

    @property
    def collapsed(self) -> bool:
        """One hit per story. Not for earlier versions (they have no story) nor with
        search_after (Elasticsearch collapses only pages it can count from the start)."""
        return not (self.all_copies or self.include_earlier or self.search_after)


@dataclass(frozen=True)
class Term:
    """One searchable unit of a query: a word, a prefix, a fuzzy word or a phrase."""

    kind: str  # "word", "prefix", "fuzzy", "phrase"
    text: str
    field: str | None = None  # a field prefix (title, author, site, ...)
    slop: int = 0  # phrases: "…"~N
    fuzziness: str = "AUTO"  # fuzzy words: AUTO, 1 or 2


@dataclass(frozen=True)
class ParsedQuery:
    tree: tuple | None  # ("and"|"or", [nodes]) | ("not", node) | ("term", Term); None = match all
    lowercase_operators: tuple[str, ...] = ()  # 'and'/'or'/'not' typed between words, searched as words
    words: tuple[str, ...] = ()  # plain words, for did-you-mean


def normalize_quotes(text: str) -> str:
    """“harbour authority” → "harbour authority"; harbour’s stays one word."""
    text = text.translate(_DOUBLE_QUOTES)
    return _SINGLE_QUOTED.sub(lambda m: f'"{m.group(1)}"', text)


@dataclass
class _Token:
    kind: str  # "(", ")", "OR", "AND", "NOT", "term", "lower-op"
    term: Term | None = None
    sign: str = ""
    raw: str = ""


def _lex(text: str, limits: SearchSettings) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(_Token(c, raw=c))
            i += 1
            continue
        if c == "|":
            tokens.append(_Token("OR", raw="|"))
            i += 1
            continue
        if c == "+" and (i + 1 == n or text[i + 1].isspace()):  # 'harbour + tram'
            tokens.append(_Token("AND", raw="+"))
            i += 1
            continue
        start = i
        sign = ""
        if c in "+-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in "()|":
            sign, i = c, i + 1
        field_name = None
        m = _FIELD.match(text, i)
        if m:
            field_name = m.group(1).lower()
            if field_name not in TEXT_FIELDS and field_name not in KEYWORD_FIELDS:
                raise QuerySyntaxError(
                    f"unknown field '{m.group(1)}:': use {FIELD_NAMES} (or put the text in quotes to search for it)"
                )
            i = m.end()
            if text[i] in "()|":
                raise QuerySyntaxError(
                    f"'{m.group(1)}:' needs a word, a prefix or a \"phrase\" right after it, not '{text[i]}' "
                    f"(grouping inside a field is not supported: write {m.group(1)}:a OR {m.group(1)}:b)"
                )
        if text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f'unclosed quote at character {i + 1}: close the phrase with a second "')
            phrase = text[i + 1 : end]
            i = end + 1
            slop = 0
            m = _SLOP.match(text, i)
            if m:
                slop = int(m.group(1) or 2)
                i = m.end()
            if not re.search(r"\w", phrase):
                raise QuerySyntaxError(f'the phrase "{phrase}" has no words to search for')
            tokens.append(_Token("term", Term("phrase", phrase.strip(), field_name, slop=slop), sign, text[start:i]))
            continue
        m = _WORD.match(text, i)
        word = m.group()
        i = m.end()
        raw = text[start:i]
        if not sign and not field_name and word in ("AND", "OR", "NOT"):
            tokens.append(_Token(word, raw=word))
            continue
        if not sign and not field_name and word in ("and", "or", "not"):
            tokens.append(_Token("term", Term("word", word), raw=word))
            tokens[-1].kind = "lower-op"
            continue
        tokens.append(_Token("term", _term(word, field_name, limits), sign, raw))
    return tokens


def _term(word: str, field_name: str | None, limits: SearchSettings) -> Term:
    if field_name in KEYWORD_FIELDS:
        return Term("word", word, field_name)
    if not re.search(r"\w", word):  # '&', '-', '—': nothing to search for, never ignored silently
        raise QuerySyntaxError(f"'{word}' is not a word: use AND, OR or NOT between words, or quote it in a phrase")
    if word.endswith("*"):
        stem = word.rstrip("*")
        if len(stem) < 2:
            raise QuerySyntaxError(f"prefix '{word}' is too short: give at least two letters before *")
        return Term("prefix", stem, field_name)
    m = _FUZZY.match(word)
    if m:
        edits = m.group(2)
        if edits and int(edits) > 2:
            raise QuerySyntaxError(f"'{word}': fuzzy search allows at most 2 edits (word~, word~1 or word~2)")
        if len(m.group(1)) > limits.max_fuzzy_chars:
            raise QuerySyntaxError(
                f"fuzzy search (~) works on words of up to {limits.max_fuzzy_chars} characters (search.max_fuzzy_chars); "
                f"this one has {len(m.group(1)):,}: drop the ~"
            )
        return Term("fuzzy", m.group(1), field_name, fuzziness=edits or "AUTO")
    if "~" in word:
        raise QuerySyntaxError(f"'{word}': put ~ at the end of a word (word~ or word~2) or of a phrase (\"…\"~3)")
    return Term("word", word, field_name)


class _Parser:
    def __init__(self, tokens: list[_Token], max_depth: int):
        self.tokens = tokens
        self.i = 0
        self.lowercase: list[str] = []
        self.depth = 0
        self.max_depth = max_depth

    def deeper(self) -> None:
        """One more level of '(' or NOT: bounded, so no query can exhaust Python's stack or
        Elasticsearch's nesting limit."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise QuerySyntaxError(
                f"the query nests parentheses or NOT more than {self.max_depth} deep (search.max_query_depth): simplify it"
            )

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self):
        if not self.tokens:
            return None
        node = self.expr()
        if self.peek() is not None:  # only a stray ')' can stop the top level early
            raise QuerySyntaxError("a ')' closes a parenthesis that was never opened")
        return node

    def expr(self):
        parts = [self.conjunction()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            if self.peek() is None or self.peek().kind in (")", "OR", "AND"):
                raise QuerySyntaxError(f"'{tok.raw}' needs words on both sides, e.g. climate OR summit")
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def conjunction(self):
        tok = self.peek()
        if tok is not None and tok.kind in ("OR", "AND"):
            raise QuerySyntaxError(f"'{tok.raw}' needs words on both sides, e.g. climate {tok.kind} summit")
        parts = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                self.i += 1
                if self.peek() is None or self.peek().kind in (")", "OR", "AND"):
                    raise QuerySyntaxError("'AND' needs words on both sides, e.g. climate AND summit")
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def unary(self):
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError("the query ends too early")
        if tok.kind == "NOT":
            self.i += 1
            if self.peek() is None or self.peek().kind in (")", "OR", "AND"):
                raise QuerySyntaxError("'NOT' needs a word after it, e.g. summit NOT trade")
            self.deeper()
            node = ("not", self.unary())
            self.depth -= 1
            return node
        if tok.kind == "(":
            self.i += 1
            if self.peek() is None:
                raise QuerySyntaxError("a '(' is never closed: add the missing ')'")
            self.deeper()
            node = self.expr()
            self.depth -= 1
            if self.peek() is None or self.peek().kind != ")":
                raise QuerySyntaxError("a '(' is never closed: add the missing ')'")
            self.i += 1
            return node
        if tok.kind == ")":
            raise QuerySyntaxError("a ')' closes a parenthesis that was never opened")
        self.i += 1
        if tok.kind == "lower-op":
            # A word like any other, but a journalist probably meant the operator.
            before, after = self.i - 2, self.i
            if before >= 0 and after < len(self.tokens) and self.tokens[before].kind == "term" and self.tokens[after].kind == "term":
                self.lowercase.append(tok.raw)
        node = ("term", tok.term)
        return ("not", node) if tok.sign == "-" else node


def parse_query(text: str, limits: SearchSettings = SearchSettings()) -> ParsedQuery:
    """The query a journalist typed, read into a tree; raises QuerySyntaxError with a fix.
    A query over the size limits is refused before it is read."""
    check_size(text, limits)
    text = normalize_quotes(text.strip())
    parser = _Parser(_lex(text, limits), limits.max_query_depth)
    tree = parser.parse()
    words = tuple(
        tok.term.text for tok in parser.tokens if tok.term is not None and tok.term.kind in ("word", "fuzzy") and tok.term.field is None
    )
    return ParsedQuery(tree, tuple(parser.lowercase), words)


def _term_query(term: Term, languages: tuple[str, ...]) -> dict:
    if term.field in KEYWORD_FIELDS:
        name = KEYWORD_FIELDS[term.field]
        return {"term": {name: {"value": term.text, "case_insensitive": True}}}
    exact, stemmed = TEXT_FIELDS.get(term.field, (SEARCH_FIELDS, STEM_SEARCH_FIELDS))
    tagged = _tag_clauses(term) if term.field is None and term.kind in ("word", "phrase") else []
    if term.kind == "phrase":
        return _any([{"multi_match": {"query": term.text, "type": "phrase", "slop": term.slop, "fields": exact}}, *tagged])
    if term.kind == "prefix":
        value = term.text.lower()
        return _any([{"prefix": {f.split("^")[0]: {"value": value, "boost": _boost(f)}}} for f in exact])
    if term.kind == "fuzzy":
        return {"multi_match": {"query": term.text, "fields": exact, "fuzziness": term.fuzziness, "operator": "and"}}
    clauses = [{"multi_match": {"query": term.text, "fields": exact, "operator": "and"}}]
    if stemmed:
        # Each part of a word (covid-19 → covid, 19) must match in some language's form.
        parts = re.findall(r"\w+(?:['’]\w+)*", term.text)
        stem_parts = [{"multi_match": {"query": " ".join(query_tokens(p, languages)), "fields": stemmed}} for p in parts]
        if stem_parts:
            clauses.append(stem_parts[0] if len(stem_parts) == 1 else {"bool": {"must": stem_parts}})
    return _any(clauses + tagged)


def _tag_clauses(term: Term) -> list[dict]:
    """A plain word or phrase that is a tag or a section finds its articles too (Küstenschutz),
    ranked below a match in the title or the text."""
    value = term.text.lower()
    return [{"term": {name: {"value": value, "boost": TAG_BOOST}}} for name in ("tags", "section")]


def _any(clauses: list[dict]) -> dict:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def _boost(field_spec: str) -> float:
    return float(field_spec.split("^")[1]) if "^" in field_spec else 1.0


def _tree_query(node, languages: tuple[str, ...]) -> dict:
    kind = node[0]
    if kind == "term":
        return _term_query(node[1], languages)
    if kind == "not":
        return {"bool": {"must_not": [_tree_query(node[1], languages)]}}
    children = [_tree_query(child, languages) for child in node[1]]
    if kind == "or":
        return {"bool": {"should": children, "minimum_should_match": 1}}
    return {"bool": {"must": children}}


def text_query(text: str, languages: tuple[str, ...] = (), limits: SearchSettings = SearchSettings()) -> dict | None:
    """The scoring part of a search for the typed text (None: no text, match everything)."""
    parsed = parse_query(text, limits)
    if parsed.tree is None:
        return None
    return _tree_query(parsed.tree, tuple(languages))


def author_filter(authors: tuple[str, ...]) -> dict:
    """Exact author names (case-insensitive), or any author whose name has these words."""
    return {
        "bool": {
            "should": [{"terms": {"authors.raw": [a.lower() for a in authors]}}]
            + [{"match_phrase": {"authors": a}} for a in authors],
            "minimum_should_match": 1,
        }
    }


def tag_filter(tags: tuple[str, ...]) -> dict:
    """Articles with any of these tags, or in a section of that name (case-insensitive)."""
    values = [t.lower() for t in tags]
    return {"bool": {"should": [{"terms": {"tags": values}}, {"terms": {"section": values}}], "minimum_should_match": 1}}


def _terms(node):
    if node is None:
        return
    if node[0] == "term":
        yield node[1]
    elif node[0] == "not":
        return  # an excluded word is never in a hit
    else:
        for child in node[1]:
            yield from _terms(child)


def highlight_query(text: str, languages: tuple[str, ...] = (), limits: SearchSettings = SearchSettings()) -> dict | None:
    """What to mark in snippets beyond the query's exact words: words sharing a typed word's
    stem ('strikes' marks 'strike'), as prefixes of the stem. None when there is nothing more."""
    codes = languages or (*STEMMERS, DEFAULT_LANGUAGE)
    stems: set[str] = set()
    for term in _terms(parse_query(text, limits).tree):
        if term.kind != "word" or term.field not in (None, "title", "body"):
            continue
        for part in re.findall(r"\w+", term.text):
            stems |= {s for code in codes if len(s := stem(part, code)) >= 4 and s != fold(part)}
    if not stems:
        return None
    return {"bool": {"should": [{"prefix": {f: s}} for s in sorted(stems) for f in HIGHLIGHT_FIELDS]}}


def stem_codes(request: SearchRequest) -> tuple[str, ...]:
    """The languages the request's words are stemmed for: the search's own, else those held."""
    return tuple(request.languages or request.stem_languages)


def build_query(request: SearchRequest) -> dict:
    must: list[dict] = []
    if request.text.strip():
        query = text_query(request.text, stem_codes(request), request.limits)
        if query is not None:
            must.append(query)
    filters: list[dict] = []
    if request.sites:
        filters.append({"terms": {"site": list(request.sites)}})
    if request.authors:
        filters.append(author_filter(request.authors))
    if request.tags:
        filters.append(tag_filter(request.tags))
    if request.languages:
        filters.append({"terms": {"language": [lang.lower() for lang in request.languages]}})
    if request.since or request.until:
        if request.since and request.until and request.since > request.until:
            raise QuerySyntaxError(f"--since {request.since} is after --until {request.until}")
        bounds = {}
        if request.since:
            bounds["gte"] = request.since.isoformat()
        if request.until:
            bounds["lte"] = request.until.isoformat()  # the whole 'until' day counts
        filters.append({"range": {"published": {**bounds, "format": "strict_date_optional_time||yyyy-MM-dd"}}})
    if request.edited:
        filters.append({"term": {"edited": True}})
    if not request.briefs:
        # Articles stored before the flag existed have no 'short' field: they count as full ones.
        filters.append({"bool": {"must_not": [{"term": {"short": True}}]}})
    if not must and not filters:
        return {"match_all": {}}
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}


def build_search_body(request: SearchRequest) -> dict:
    if request.sort not in SORTS:
        raise QuerySyntaxError(f"unknown sort {request.sort!r}: use one of {', '.join(SORTS)}")
    if not 1 <= request.size <= 1000:
        raise QuerySyntaxError("page size must be between 1 and 1000")
    excludes = ["url_variants", "story_bands"] if request.with_body else ["body", "url_variants", "story_bands"]
    body: dict = {
        "query": build_query(request),
        "sort": SORTS[request.sort] + ([EARLIER_TIEBREAK] if request.include_earlier else []),
        "size": request.size,
        # Counting every match of a common word costs more than finding the best ones. One more
        # than the limit: 10,001 counted means "more than 10,000", never a wrong exact number.
        "track_total_hits": request.limits.count_limit + 1 if request.limits.count_limit else True,
        "_source": {"includes": list(request.fields)} if request.fields else {"excludes": excludes},
    }
    if request.search_after:
        body["search_after"] = list(request.search_after)
    if request.highlight and request.text.strip():
        body["highlight"] = {
            "pre_tags": [MARK_PRE],
            "post_tags": [MARK_POST],
            "max_analyzed_offset": 999_999,  # very long bodies highlight their start instead of failing
            "fields": {
                "title": {"number_of_fragments": 0},
                "body": {"fragment_size": 180, "number_of_fragments": 3, "no_match_size": 180},
            },
        }
        extra = highlight_query(request.text, stem_codes(request), request.limits)
        if extra is not None:
            body["highlight"]["highlight_query"] = {"bool": {"should": [body["query"], extra]}}
    sampled = request.facets and request.facet_sample > 0
    if request.collapsed:
        body["collapse"] = {"field": "story", "inner_hits": {
            "name": "copies", "size": COPIES_LISTED, "sort": COPY_ORDER,
            "_source": {"excludes": ["body", "url_variants", "body_candidates", "story_bands"]},
        }}
        if not sampled:  # a sampled page counts stories only when its matches are few (below)
            body["aggs"] = story_aggregations()
    if sampled:
        body["aggs"] = {
            # Many matches: a random share of them is counted, not every one.
            "sample": {"random_sampler": {"probability": request.facet_sample, "seed": SAMPLE_SEED},
                       "aggs": facet_aggregations(request)},
            # Few matches (no more than count_limit, so the hits' count is exact too): all of them,
            # counted exactly in the same request, as one page of the best count_limit + 1.
            "few": {"sampler": {"shard_size": request.limits.count_limit + 1},
                    "aggs": facet_aggregations(request) | (story_aggregations() if request.collapsed else {})},
        }
    elif request.facets:
        body["aggs"] = {**body.get("aggs", {}), **facet_aggregations(request)}
        if request.compare:
            # Counted over the whole archive (global), each with its own query and this one's filters.
            body["aggs"]["compare"] = {"global": {}, "aggs": {
                f"q{n}": {"filter": build_query(replace(request, text=text, compare=())),
                          "aggs": {"over_time": over_time_aggregation(request)}}
                for n, text in enumerate(request.compare, start=2)
            }}
    return body


def facet_aggregations(request: SearchRequest) -> dict:
    """What the page shows beside the hits: the sites, and the coverage chart's periods."""
    return {"sites": {"terms": {"field": "site", "size": 50}}, "over_time": over_time_aggregation(request)}


def story_aggregations() -> dict:
    # Articles stored before stories existed would collapse into one group: counted, to fall back.
    # "direct": hash each match's story rather than build global ordinals over every story in
    # the archive (a million distinct values, built again after every refresh).
    return {"stories": {"cardinality": {"field": "story", "execution_hint": "direct"}},
            "unstoried": {"missing": {"field": "story"}}}


def over_time_aggregation(request: SearchRequest) -> dict:
    """Matching articles per day, week or month (display_date: published, else first archived);
    empty periods inside the range are kept, so a chart shows the gaps."""
    if request.interval not in INTERVALS:
        raise QuerySyntaxError(f"unknown interval {request.interval!r}: use one of {', '.join(INTERVALS)}")
    histogram = {"field": "display_date", "calendar_interval": request.interval, "format": "yyyy-MM-dd", "min_doc_count": 0}
    if request.since and request.until:
        histogram["extended_bounds"] = {"min": request.since.isoformat(), "max": request.until.isoformat()}
    return {"date_histogram": histogram}


@dataclass
class Hit:
    id: str
    score: float | None
    url: str
    title: str
    site: str
    authors: list[str]
    published: str | None
    snippets: list[str]
    title_highlight: str | None
    source: dict
    sort: list = field(default_factory=list)
    copies: list[dict] = field(default_factory=list)  # a collapsed story: its matching copies, earliest first
    copies_total: int = 1

    @property
    def other_sites(self) -> list[str]:
        """The sites that also published this story (among the copies listed)."""
        return sorted({c.get("site", "") for c in self.copies} - {self.site})

    @property
    def captured_at(self) -> str | None:
        """For a hit that is an earlier version of an article: when that version was captured."""
        return self.source.get("captured_at") if self.source.get("article_id") else None

    def as_dict(self) -> dict:
        extra = {}
        if "body" in self.source:
            extra["body"] = self.source["body"]
        if self.captured_at:
            extra["earlier_version_of"] = self.source.get("article_id")
            extra["captured_at"] = self.captured_at
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "site": self.site,
            "authors": self.authors,
            "published": self.published,
            "score": self.score,
            "snippets": self.snippets,
            "tags": self.source.get("tags", []),
            "section": self.source.get("section"),
            "language": self.source.get("language"),
            "edited": self.source.get("edited", False),
            "story": self.source.get("story"),
            **({"copies_total": self.copies_total, "also_published_by": self.other_sites,
                "copies": [c["url"] for c in self.copies if c.get("id") != self.id]} if self.copies else {}),
            **extra,
        }


@dataclass(frozen=True)
class Suggestion:
    """A corrected query from the archive's own vocabulary, and how many hits it has."""

    text: str
    hits: int

    def __str__(self) -> str:
        return f"{self.text}: {count_noun(self.hits, 'hit')}"


@dataclass
class SearchResponse:
    total: int  # exact; with total_more, the count_limit there are more hits than
    hits: list[Hit]
    sites: list[tuple[str, int]]
    over_time: list[tuple[str, int]]  # (first day of the period, articles)
    next_search_after: list | None
    stories: int | None = None  # how many stories the hits collapse into (None: every copy listed)
    compared: list[tuple[int, list[tuple[str, int]]]] = field(default_factory=list)  # request.compare's totals and periods
    unstoried: int = 0  # matching articles without a story (stored before stories; `archive index migrate`)
    suggestions: list[Suggestion] = field(default_factory=list)  # did you mean (few or no hits)
    hints: list[str] = field(default_factory=list)  # e.g. lowercase 'or' searched as a word
    total_more: bool = False  # more hits than `total`: counting stopped there (search.count_limit)
    understood: list = field(default_factory=list)  # search.understood.Reading: how each term was searched
    # > 0: sites and over_time are estimates from a random sample of this share of the matches
    # (more than count_limit matched); 0: they are exact.
    facet_sample: float = 0.0
    estimated_total: int = 0  # with facet_sample: the matches the sample stands for

    def facet_count_text(self, count: int) -> str:
        """A count of the facets as the reader sees it: 'about 4,300' when estimated from a sample."""
        return f"about {rounded_estimate(count):,}" if self.facet_sample else f"{count:,}"

    def count_text(self, noun: str = "article") -> str:
        """'1,204 articles', or 'more than 10,000 articles' when counting stopped there."""
        if self.total_more:
            return f"more than {self.total:,} {noun}s"
        return count_noun(self.total, noun)


def sample_note(share: float) -> str:
    """What estimated counts were estimated from, in words."""
    return f"estimated from a random {share:.0%} of the matches"


def rounded_estimate(count: int) -> int:
    """An estimate to two significant digits (43,817 -> 44,000): a sample of a tenth of the
    matches is good to a few per cent, and more digits would claim more than that."""
    places = len(str(abs(count))) - 2
    return round(count, -places) if places > 0 else count


def count_noun(count: int, noun: str, plural: str | None = None) -> str:
    """'1 article', '57 articles', '1,204 hits'."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def parse_facets(aggs: dict) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(sites, over_time) as (value, articles) pairs; a sample's counts come scaled up already."""
    sites = [(b["key"], b["doc_count"]) for b in aggs.get("sites", {}).get("buckets", [])]
    over_time = [(b["key_as_string"], b["doc_count"]) for b in aggs.get("over_time", {}).get("buckets", [])]
    return sites, over_time


def parse_response(response: dict) -> SearchResponse:
    hits = []
    for raw in response["hits"]["hits"]:
        source = raw.get("_source", {})
        highlight = raw.get("highlight", {})
        copies_found = raw.get("inner_hits", {}).get("copies", {}).get("hits", {})
        copies = [{"id": c["_id"], **c.get("_source", {})} for c in copies_found.get("hits", [])]
        if copies and copies[0]["id"] != raw["_id"]:
            # The story is shown as its earliest copy; the snippets (the same text) stay.
            first = copies[0]
            raw, source = {**raw, "_id": first["id"]}, {k: v for k, v in first.items() if k != "id"}
            highlight = {k: v for k, v in highlight.items() if k != "title"}
        hits.append(
            Hit(
                id=raw["_id"],
                score=raw.get("_score"),
                url=source.get("url", ""),
                title=source.get("title", ""),
                site=source.get("site", ""),
                authors=source.get("authors", []) or [],
                published=source.get("published"),
                snippets=highlight.get("body", []),
                title_highlight=(highlight.get("title") or [None])[0],
                source=source,
                sort=raw.get("sort", []),
                copies=copies,
                copies_total=copies_found.get("total", {}).get("value", 1) if copies else 1,
            )
        )
    aggs = response.get("aggregations", {})
    total = response["hits"]["total"]
    more = total.get("relation") == "gte"  # counted up to count_limit + 1 and stopped
    sample = aggs.get("sample") if more else None  # past the limit the sample's estimates
    if "few" in aggs and not more:
        aggs = aggs["few"]  # within it every match was counted
    sites, over_time = parse_facets(sample or aggs)
    return SearchResponse(
        total=total["value"] - 1 if more else total["value"],
        total_more=more,
        hits=hits,
        sites=sites,
        over_time=over_time,
        facet_sample=sample["probability"] if sample else 0.0,
        estimated_total=round(sample["doc_count"] / sample["probability"]) if sample else 0,
        stories=aggs["stories"]["value"] if "stories" in aggs else None,
        unstoried=aggs.get("unstoried", {}).get("doc_count", 0),
        compared=[(bucket["doc_count"], [(b["key_as_string"], b["doc_count"]) for b in bucket["over_time"]["buckets"]])
                  for _, bucket in sorted(((k, v) for k, v in aggs.get("compare", {}).items() if k.startswith("q")),
                                          key=lambda item: int(item[0][1:]))],
        next_search_after=hits[-1].sort if hits else None,
    )
