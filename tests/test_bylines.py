"""The author search of crawler/bylines.py finds what trafilatura's extract_author finds."""

from __future__ import annotations

from pathlib import Path

import pytest
from trafilatura.metadata import extract_author
from trafilatura.utils import load_html

from crawler.bylines import page_author

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
COMMENTS = ('<div class="comments"><p><span class="author">Troll Account</span> said: first!</p>'
            '<p><span class="author">Other Reader</span> said: no</p></div>')


def page(body: str) -> str:
    return f"<html><head><title>Harbour news</title></head><body>{body}</body></html>"


@pytest.mark.parametrize("body, author", [
    # a commenter's name comes first on the page; comments are not the article's byline
    (COMMENTS + '<article><span class="author-name">Jane Doe</span><p>The harbour reopened.</p></article>', "Jane Doe"),
    # the date inside the byline is not part of the name
    ('<article><p class="byline">Ann Lee <time datetime="2024-05-01">May 1</time></p><p>Text.</p></article>', "Ann Lee"),
    # a specific mark (rel=author) wins over a generic one met earlier (a "writer" class)
    ('<div class="writer-box">Zed Zimmer</div><article><a rel="author" href="/ann">Ann Lee</a></article>', "Ann Lee"),
    # a block too long for a name is passed over for the next candidate
    ('<div class="author-name">' + "About our newsroom and its many reporters. " * 4 + '</div>'
     '<span class="author">Omar Khan</span>', "Omar Khan"),
    # a byline inside a sidebar is not the article's
    ('<aside><div class="sidebar"><span class="author">Sidebar Writer</span></div></aside>'
     '<p>The ferry runs again.</p>', None),
])
def test_author_is_trafilaturas(body, author):
    tree = load_html(page(body))
    assert extract_author(load_html(page(body))) == author  # the rule, as trafilatura applies it
    assert page_author(tree) == author


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.html")))
def test_fixture_pages_give_trafilaturas_author(fixture):
    html = (FIXTURES / fixture).read_text(encoding="utf-8")
    assert page_author(load_html(html)) == extract_author(load_html(html))
