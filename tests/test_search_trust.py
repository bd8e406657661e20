"""Search that journalists can trust, on the real node: what they type is what they get, and
nothing is cut silently. The archive is the demo site's hand-written articles."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from _search_archive import demo_archive, document, write  # noqa: F401 (fixture)
from archive.cli import AppContext, cli
from archive.demo_site.content import hand_written_articles
from search.filters import UnknownFilter, validate_filters
from search.query import MARK_POST, MARK_PRE, SearchRequest
from search.service import search


def run(settings, *args):
    """`archive ARGS` with these settings; stdout and stderr apart."""
    return CliRunner().invoke(cli, list(args), obj=AppContext(None, settings), catch_exceptions=False)


def titles(settings, es_client, text: str, **options) -> list[str]:
    es = settings.elasticsearch
    response = search(es_client, es.articles_alias, SearchRequest(text=text, size=50, **options), versions_alias=es.versions_alias)
    return [hit.title for hit in response.hits]


@pytest.mark.parametrize(
    "typed",
    [
        "“harbour authority confirmed the closure”",
        "„harbour authority confirmed the closure“",
        "«harbour authority confirmed the closure»",
        "‘harbour authority confirmed the closure’",
    ],
)
def test_typographic_quotes_find_what_straight_quotes_find(demo_archive, es_client, typed):
    straight = titles(demo_archive, es_client, '"harbour authority confirmed the closure"')
    assert len(straight) == 1
    assert titles(demo_archive, es_client, typed) == straight


def test_inflected_and_accented_forms_find_their_articles(demo_archive, es_client):
    strike = titles(demo_archive, es_client, "strike")
    assert strike and titles(demo_archive, es_client, "strikes") == strike  # English plural
    es = demo_archive.elasticsearch
    first = search(es_client, es.articles_alias, SearchRequest(text="strikes")).hits[0]
    assert f"{MARK_PRE}strike{MARK_POST}" in first.snippets[0]  # the snippet marks the form the article uses
    german = "Sturmflut setzt Deichen an der Nordmarsch zu"
    assert titles(demo_archive, es_client, "Schaden") == [german]  # the text says Schäden
    assert titles(demo_archive, es_client, "Burgermeisterin") == [german]  # Bürgermeisterin
    assert titles(demo_archive, es_client, "Deich") == [german]  # Deichen, Deiche


def test_irregular_plurals_and_accents_in_other_languages(demo_archive, es_client):
    es = demo_archive.elasticsearch
    base = hand_written_articles()[0]
    extra = [
        replace(base, slug="fisherman", title="A fisherman rescued off Kestrel Point", paragraphs=("The fisherman was rescued.",)),
        replace(base, slug="cafe", title="Le café du port rouvre", language="fr", paragraphs=("Les cafés du port rouvrent.",)),
    ]
    write(es_client, es, [document(a) for a in extra])
    assert titles(demo_archive, es_client, "fishermen") == ["A fisherman rescued off Kestrel Point"]
    assert titles(demo_archive, es_client, "cafe") == ["Le café du port rouvre"]


def test_the_exact_phrase_ranks_above_loose_matches(demo_archive, es_client):
    exact = titles(demo_archive, es_client, '"harbour authority"')
    loose = titles(demo_archive, es_client, "harbour authorities")
    assert set(exact) <= set(loose)
    assert loose[: len(exact)] == exact  # articles with the exact words come first


def test_a_typo_gets_a_suggestion_with_its_hit_count(demo_archive):
    result = run(demo_archive, "search", "desalnation")
    assert result.exit_code == 0
    assert "Did you mean: desalination: 3 hits" in result.stdout
    assert "No articles found." in result.stdout


def test_fuzzy_search_works(demo_archive, es_client):
    assert len(titles(demo_archive, es_client, "desalnation~")) == 3


def test_lowercase_or_gets_a_hint_and_the_count_of_what_was_meant(demo_archive):
    result = run(demo_archive, "search", "harbour or tram")
    assert "'or' was searched as a word; did you mean OR?" in result.stdout
    assert "harbour OR tram: " in result.stdout


def test_field_prefixes_work(demo_archive, es_client):
    in_title = titles(demo_archive, es_client, "title:harbour")
    assert in_title and all("harbour" in t.lower() for t in in_title)
    assert len(titles(demo_archive, es_client, "harbour")) > len(in_title)
    by_okafor = titles(demo_archive, es_client, 'author:"Maren Okafor"')
    assert by_okafor and len(by_okafor) == len(titles(demo_archive, es_client, "", authors=("Maren Okafor",)))
    assert titles(demo_archive, es_client, "harbour site:DEMO") == titles(demo_archive, es_client, "harbour")


def test_unknown_filters_are_refused_with_the_known_values(demo_archive, es_client):
    es = demo_archive.elasticsearch
    result = run(demo_archive, "search", "harbour", "--site", "nosuchsite")
    assert result.exit_code == 2
    assert "unknown site 'nosuchsite': sites in the archive: demo (34 articles)" in result.output
    assert run(demo_archive, "search", "--lang", "klingon").exit_code == 2
    with pytest.raises(UnknownFilter, match="politcs"):
        validate_filters(es_client, es.articles_alias, SearchRequest(tags=("politcs",)))
    # Sites and languages in any case; a language by its name.
    checked = validate_filters(es_client, es.articles_alias, SearchRequest(sites=("Demo",), languages=("German",)))
    assert checked.sites == ("demo",) and checked.languages == ("de",)
    assert "1 article;" in run(demo_archive, "search", "--site", "Demo", "--lang", "german").stdout


def test_a_csv_export_holds_every_hit(demo_archive):
    politics = len([a for a in hand_written_articles() if a.section == "politics" or "politics" in a.tags])
    assert politics > 10  # more than one page
    table = run(demo_archive, "search", "--tag", "politics")
    assert f"{politics} articles; showing 1–10 of {politics}, next: `--page 2`" in table.stdout

    exported = run(demo_archive, "search", "--tag", "politics", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == politics and len({r["url"] for r in rows}) == politics
    assert exported.stderr.strip() == (f"exported {politics} articles; every copy of a story is a row, "
                                        "its story column names the story's first copy")
    assert all(r["story"] for r in rows)
    # The audit trail keeps the operator's export too: who, what, how many rows.
    from search.audit import AuditLog
    from search.client import make_client

    (audited,) = AuditLog(make_client(demo_archive.elasticsearch), demo_archive.elasticsearch.audit_alias).read(event="export")
    assert audited["user"].startswith("operator:") and (audited["format"], audited["rows"]) == ("csv", politics)
    assert audited["filters"] == {"tags": ["politics"]}

    as_json = json.loads(run(demo_archive, "search", "--tag", "politics", "--format", "json", "--with-body").stdout)
    assert len(as_json) == politics and all(hit["body"] for hit in as_json)
    assert json.loads(run(demo_archive, "search", "nothingmatchesthis", "--format", "json").stdout) == []

    first_three = run(demo_archive, "search", "--tag", "politics", "--format", "ndjson", "--size", "3")
    assert len(first_three.stdout.splitlines()) == 3
    assert first_three.stderr.strip().startswith("exported 3 articles (--size 3); every copy of a story is a row")
    second_page = run(demo_archive, "search", "--tag", "politics", "--format", "ndjson", "--size", "10", "--page", "2")
    assert len(second_page.stdout.splitlines()) == politics - 10
    refused = CliRunner().invoke(cli, ["search", "--format", "csv", "--page", "2"], obj=AppContext(None, demo_archive))
    assert refused.exit_code == 2 and "needs --size" in refused.output


def test_an_old_headline_is_found_with_include_earlier(demo_archive, es_client):
    es = demo_archive.elasticsearch
    article = hand_written_articles()[0]
    old_title = article.title
    write(es_client, es, [document(replace(article, title="Sea wall budget approved at dawn"), "2026-02-01T00:00:00+00:00")])

    assert titles(demo_archive, es_client, f'"{old_title}"') == []
    assert titles(demo_archive, es_client, f'"{old_title}"', include_earlier=True) == [old_title]
    result = run(demo_archive, "search", f'"{old_title}"', "--include-earlier")
    assert "(earlier version, captured 2026-01-01)" in " ".join(result.stdout.split())  # rich wraps lines
    rows = list(csv.DictReader(io.StringIO(run(demo_archive, "search", "sea wall", "--include-earlier", "--format", "csv").stdout)))
    assert {r["captured_at"][:10] for r in rows} >= {"2026-01-01", ""}
