"""Discovery finds article URLs in robots.txt, sitemap indexes, news sitemaps and feeds."""

import gzip

from crawler.discovery import parse_feed, parse_sitemap, robots_sitemaps

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://news.example/2025/03/14/harbour-closure</loc>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2025-03-14T08:00:00+00:00</news:publication_date>
      <news:title>Harbour closes</news:title>
    </news:news>
  </url>
  <url><loc>https://news.example/2025/03/15/budget</loc><lastmod>2025-03-16</lastmod></url>
</urlset>"""


def test_robots_txt_sitemap_lines():
    robots = "User-agent: *\nDisallow: /private/\nSitemap: https://news.example/sitemap_index.xml\n"
    assert robots_sitemaps(robots, "https://news.example/robots.txt") == ["https://news.example/sitemap_index.xml"]


def test_sitemap_index_lists_child_sitemaps():
    body = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://news.example/sitemap-news.xml</loc></sitemap>
      <sitemap><loc>https://news.example/sitemap-2024.xml.gz</loc><lastmod>2024-12-31</lastmod></sitemap>
    </sitemapindex>"""
    sitemap = parse_sitemap(body)
    assert sitemap.is_index
    assert [e.url for e in sitemap.entries] == [
        "https://news.example/sitemap-news.xml",
        "https://news.example/sitemap-2024.xml.gz",
    ]


def test_news_sitemap_keeps_publication_date_and_title():
    sitemap = parse_sitemap(NEWS_SITEMAP)
    assert not sitemap.is_index
    first, second = sitemap.entries
    assert first.url.endswith("/harbour-closure")
    assert first.lastmod == "2025-03-14T08:00:00+00:00"
    assert first.title == "Harbour closes"
    assert second.lastmod == "2025-03-16"


def test_gzipped_sitemap():
    assert len(parse_sitemap(gzip.compress(NEWS_SITEMAP)).entries) == 2


def test_html_is_not_a_sitemap_and_entities_are_not_expanded():
    assert parse_sitemap(b"<html><body>Not found</body></html>") is None
    evil = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&e;</loc></url></urlset>"""
    sitemap = parse_sitemap(evil)
    assert all("root:" not in e.url for e in sitemap.entries)


def test_rss_and_atom_feeds():
    rss = b"""<rss version="2.0"><channel><title>T</title>
      <item><title>One</title><link>https://news.example/2025/01/01/one</link><pubDate>Wed, 01 Jan 2025 10:00:00 GMT</pubDate></item>
      <item><title>Two</title><link> https://news.example/2025/01/02/two </link></item>
    </channel></rss>"""
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
      <entry><title>Three</title><link rel="alternate" href="https://news.example/2025/01/03/three"/>
      <link rel="enclosure" href="https://news.example/a.mp3"/><published>2025-01-03T00:00:00Z</published></entry>
    </feed>"""
    assert [e.url for e in parse_feed(rss)] == ["https://news.example/2025/01/01/one", "https://news.example/2025/01/02/two"]
    assert parse_feed(rss)[0].lastmod == "Wed, 01 Jan 2025 10:00:00 GMT"
    assert [e.url for e in parse_feed(atom)] == ["https://news.example/2025/01/03/three"]
    assert parse_feed(b"<html><body>hi</body></html>") is None
