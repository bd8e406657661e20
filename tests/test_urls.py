"""One article is one document, however a reader or a crawler reached it."""

from crawler.urls import canonicalize, document_id, in_domains


def test_tracking_parameters_and_fragment_do_not_make_a_second_article():
    plain = "http://127.0.0.1:8701/2025/03/14/harbour-closure"
    tracked = plain + "?utm_source=newsletter&utm_medium=email&fbclid=abc#comments"
    assert canonicalize(tracked) == plain
    assert document_id(canonicalize(tracked)) == document_id(canonicalize(plain))


def test_meaningful_query_parameters_are_kept_in_a_stable_order():
    assert canonicalize("https://news.example/story?id=7&page=2") == canonicalize("https://news.example/story?page=2&id=7")
    assert "id=7" in canonicalize("https://news.example/story?id=7&utm_campaign=x")
    assert canonicalize("https://news.example/story?id=7") != canonicalize("https://news.example/story?id=8")


def test_host_case_and_default_port_do_not_matter():
    assert canonicalize("HTTPS://News.Example:443/a") == "https://news.example/a"
    assert canonicalize("http://news.example:80/a") == "http://news.example/a"


def test_domain_scope_includes_subdomains_only():
    assert in_domains("https://www.news.example/a", ["news.example"])
    assert not in_domains("https://news.example.evil.com/a", ["news.example"])
    assert not in_domains("https://othernews.example/a", ["news.example"])
