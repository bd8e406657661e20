"""What a journalist meets in the first searches, on the real node: authors are checked like
sites and tags, a tag is found by typing it, and prose is not mistaken for a boolean query."""

from __future__ import annotations

from dataclasses import replace

from click.testing import CliRunner

from _search_archive import demo_archive, document, write  # noqa: F401 (fixture)
from archive.cli import AppContext, cli
from archive.demo_site.content import hand_written_articles
from search.query import SearchRequest
from search.service import search


def run(settings, *args):
    return CliRunner().invoke(cli, list(args), obj=AppContext(None, settings), catch_exceptions=False)


def test_an_unknown_author_is_refused_with_the_closest_names(demo_archive):
    nobody = run(demo_archive, "search", "--author", "nobody")
    assert nobody.exit_code == 2
    assert "no article by 'nobody'" in nobody.output
    assert "No articles found" not in nobody.output
    typo = run(demo_archive, "search", "harbour", "--author", "Maren Okafr")
    assert typo.exit_code == 2
    assert "did you mean Maren Okafor?" in typo.output
    surname = run(demo_archive, "search", "--author", "okafr")
    assert "did you mean Maren Okafor?" in surname.output
    found = run(demo_archive, "search", "--author", "maren okafor")  # any case, as before
    assert found.exit_code == 0 and "articles;" in found.stdout


def test_a_plain_word_finds_an_articles_tag_ranked_below_the_text(demo_archive, es_client):
    es = demo_archive.elasticsearch
    article = hand_written_articles()[0]
    tagged = {**document(article), "url": "http://demo.example/2025/11/02/dunes", "title": "Dunes rebuilt on the north shore",
              "tags": ["Küstenschutz", "coast"], "body": "Crews rebuilt the dunes after the storms. " * 20}
    in_text = {**document(article), "url": "http://demo.example/2025/11/03/coast-plan", "title": "A plan for the coast",
               "tags": ["coast"], "body": "The Küstenschutz plan was presented to the council. " * 20}
    write(es_client, es, [tagged, in_text])
    found = [h.url for h in search(es_client, es.articles_alias, SearchRequest(text="Küstenschutz")).hits]
    assert tagged["url"] in found and in_text["url"] in found
    assert found[-1] == tagged["url"]  # the tag alone ranks below every match in the text
    assert tagged["url"] not in [h.url for h in search(es_client, es.articles_alias, SearchRequest(text="title:Küstenschutz")).hits]


def test_a_pasted_sentence_gets_no_operator_hint_but_a_short_boolean_query_does(demo_archive):
    prose = "the minister said the harbour and the tram depot would close for good next winter or spring"
    pasted = run(demo_archive, "search", prose)
    assert "was searched as a word" not in pasted.stdout
    typed = run(demo_archive, "search", "harbour or tram")
    assert "'or' was searched as a word; did you mean OR?" in typed.stdout
