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


def _scope(*allowed, start="http://127.0.0.1:8701/"):
    from archive.config import SiteSettings
    from crawler.urls import SiteScope

    return SiteScope.of(SiteSettings(name="s", start_urls=(start,), allowed_domains=allowed, article_allow=("x",)))


def test_a_bare_host_allows_the_default_ports_and_those_of_the_configured_urls_only():
    scope = _scope("127.0.0.1", "news.example")
    assert scope.allows("http://127.0.0.1:8701/2025/01/01/a")  # the start URL's port
    assert scope.allows("https://www.news.example/a") and scope.allows("http://news.example:80/a")
    assert not scope.allows("http://127.0.0.1:9200/_cat/indices")  # Elasticsearch beside the site
    assert not scope.allows("http://news.example:8080/a")


def test_an_allowed_domains_entry_can_name_its_port():
    scope = _scope("news.example:8443", start="https://news.example:8443/")
    assert scope.allows("https://news.example:8443/a")
    assert not scope.allows("https://news.example:9443/a")


def test_a_redirect_to_an_internal_address_is_refused_unless_the_site_lives_there():
    public = _scope("news.example", "10.0.0.5", start="https://news.example/")
    assert public.refuses_redirect("https://news.example/b") is None
    assert "internal address" in public.refuses_redirect("http://10.0.0.5/admin")
    assert "outside allowed_domains" in public.refuses_redirect("http://127.0.0.1/")
    local = _scope("127.0.0.1")
    assert local.refuses_redirect("http://127.0.0.1:8701/b") is None
