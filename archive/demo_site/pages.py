"""HTML/XML rendering of the demo site. Pure functions of (DemoSite, base URL, ...).

Article pages carry everything a real news page has: metadata for the extractor (canonical,
Open Graph, article:* meta, JSON-LD NewsArticle, <time>, byline, <html lang>) and the chrome
that must never end up in an extracted article (navigation, breaking banner, photo caption
and credit, related stories, continue-reading teaser, newsletter box, subscription offer,
reader comments, corrections line, social links, footer). Every chrome string in
``CHROME_MARKERS`` appears on every article page and in no article body.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import format_datetime
from html import escape
from urllib.parse import quote

from .content import (
    FEED_SIZE, HOME_SIZE, NEWS_SITEMAP_SIZE, PAGE_SIZE, PDF_ARTICLE_SLUG, PDF_PATH, SECTION_LABELS, SECTIONS,
    SITE_NAME, Article, DemoSite, slugify,
)

# --- chrome strings (fixed; never in an article body) -------------------------------------
SKIP_LINK = "Skip to main content"
BREAKING_LABEL = "Breaking Banner"
BREAKING_TEXT = "Courier Live: rolling coverage of tonight's council budget vote in the Calder chamber"
PHOTO_CAPTION = "Archive image accompanying this report"
PHOTO_CREDIT = "Photo: Courier Picture Desk"
RELATED_HEADING = "Related stories"
CONTINUE_HEADING = "Continue Reading"
NEWSLETTER_TEXT = ("Sign up for our morning briefing: the five stories you need before your first coffee, "
                   "in your inbox at six")
SUBSCRIBE_TEXT = "Subscribe to the Calder Courier for 1 crown a week. Offer ends in 02:14:55"
CORRECTIONS_TEXT = "Report typos and corrections to: corrections@calder-courier.example"
CONNECT_TEXT = "Connect with us"
FOOTER_TEXT = "© 2026 Calder Courier Media Group. All rights reserved."
COMMENTS_HEADING = "Reader comments"
COMMENTS = [
    ("harbourwatcher", "Finally somebody asks the obvious questions. Keep it up, Courier!"),
    ("Juniper_88", "I read this twice and I still do not understand who is going to pay for it."),
    ("OldSalt1954", "My grandfather said exactly the same thing forty years ago. Nothing ever changes round here."),
    ("marit.k", "Could you do a follow-up on what this means for people renting in the east end?"),
    ("ElsbyValleyFarmer", "Nobody from the ministry has set foot on our farms. Come and see for yourselves."),
]

CHROME_MARKERS: list[str] = [
    SKIP_LINK, BREAKING_LABEL, BREAKING_TEXT, PHOTO_CAPTION, PHOTO_CREDIT, RELATED_HEADING, CONTINUE_HEADING,
    "Sign up for our morning briefing", NEWSLETTER_TEXT, "Subscribe to the Calder Courier for 1 crown a week",
    CORRECTIONS_TEXT, CONNECT_TEXT, "Calder Courier Media Group", COMMENTS_HEADING,
    *[text for _, text in COMMENTS],
]

SOCIAL = [("Facebook", "https://social.example/caldercourier"), ("X", "https://x.example/caldercourier"),
          ("Instagram", "https://photos.example/caldercourier"), ("Mastodon", "https://mastodon.example/@courier")]

CSS = """body{font-family:Georgia,serif;margin:0;color:#222}header.site,footer.site{background:#102a43;color:#fff;padding:.5em 1em}
header.site a,footer.site a{color:#fff}nav.sections ul{list-style:none;display:flex;gap:1em;padding:0}
.breaking{background:#c00;color:#fff;padding:.4em 1em}main{max-width:46em;margin:auto;padding:1em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}.teaser{border-top:1px solid #ddd;padding:.5em 0}
.newsletter,.subscribe{background:#f3f0e8;padding:1em;margin:1em 0}.comments{border-top:2px solid #102a43}"""


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def _human(dt: datetime) -> str:
    return f"{dt.day} {dt:%B %Y}, {dt:%H:%M}"


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def _e(text: str) -> str:
    return escape(text, quote=True)


def tag_path(tag: str) -> str:
    return f"/tag/{quote(slugify(tag))}"


def _head(title: str, base: str, *, canonical: str | None = None, description: str = "", extra: str = "",
          robots: str | None = None) -> str:
    parts = ['<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title>"]
    if description:
        parts.append(f'<meta name="description" content="{_e(description)}">')
    if canonical:
        parts.append(f'<link rel="canonical" href="{_e(base + canonical)}">')
    if robots:
        parts.append(f'<meta name="robots" content="{robots}">')
    parts.append(f'<link rel="alternate" type="application/rss+xml" title="{_e(SITE_NAME)}" href="{base}/feed.xml">')
    parts.append(f"<style>{CSS}</style>")
    if extra:
        parts.append(extra)
    return "\n".join(parts)


def _header(base: str) -> str:
    nav = "".join(f'<li><a href="/section/{s}">{_e(SECTION_LABELS[s])}</a></li>' for s in SECTIONS)
    return f"""<a class="skip-link" href="#main">{SKIP_LINK}</a>
<header class="site">
<a class="logo" href="/">{_e(SITE_NAME)}</a>
<nav class="sections" aria-label="Sections"><ul><li><a href="/">Home</a></li>{nav}</ul></nav>
<form class="search" role="search" action="/search" method="get"><input type="search" name="q" placeholder="Search the Courier"><button>Search</button></form>
</header>
<div class="breaking" role="alert"><strong>{BREAKING_LABEL}</strong> <a href="/">{_e(BREAKING_TEXT)}</a></div>"""


def _footer() -> str:
    social = "".join(f'<li><a href="{url}" rel="nofollow noopener">{name}</a></li>' for name, url in SOCIAL)
    return f"""<footer class="site">
<div class="social"><h2>{CONNECT_TEXT}</h2><ul>{social}</ul></div>
<nav class="footer-links"><a href="/feed.xml">RSS</a> · <a href="/sitemap_index.xml">Sitemap</a> · <a href="/section/politics">Politics</a> · <a href="/section/world">World</a> · <a href="/section/business">Business</a> · <a href="/section/climate">Science &amp; Climate</a></nav>
<p class="copyright">{_e(FOOTER_TEXT)}</p>
</footer>"""


def _document(lang: str, head: str, body: str) -> str:
    return f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n'


def _teaser(a: Article, *, with_sentence: bool = True, href: str | None = None, extra: str = "") -> str:
    sentence = f'<p class="summary">{_e(a.first_sentence)}</p>' if with_sentence else ""
    return (f'<article class="teaser"><h3><a href="{_e(href or a.path)}">{_e(a.title)}</a></h3>{sentence}'
            f'<p class="meta"><span class="teaser-byline">{_e(a.byline)}</span> · '
            f'<time datetime="{_iso(a.published)}">{_human(a.published)}</time>{extra}</p></article>')


# --- article page ----------------------------------------------------------------------------

def _json_ld(a: Article, base: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": base + a.canonical_path},
        "url": base + a.canonical_path,
        "headline": a.title,
        "description": a.description,
        "datePublished": _iso(a.published),
        "dateModified": _iso(a.last_modified),
        "author": [{"@type": "Person", "name": n} for n in a.authors],
        "keywords": ", ".join(a.tags),
        "articleSection": SECTION_LABELS.get(a.section, a.section),
        "inLanguage": a.language,
        "image": [f"{base}/media/photos/{a.slug}.svg"],
        "publisher": {"@type": "Organization", "name": SITE_NAME,
                      "logo": {"@type": "ImageObject", "url": f"{base}/media/logo.svg"}},
    }
    text = json.dumps(data, ensure_ascii=False, indent=1).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>'


def _body_paragraphs(a: Article) -> list[str]:
    out = []
    for p in a.paragraphs:
        html = _e(p)
        if a.slug == PDF_ARTICLE_SLUG and "annual report" in p:
            html = html.replace("annual report", f'<a href="{PDF_PATH}">annual report</a>', 1)
        out.append(f"<p>{html}</p>")
    return out


def article_page(site: DemoSite, a: Article, base: str) -> str:
    meta = [
        f'<meta property="og:site_name" content="{_e(SITE_NAME)}">',
        f'<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{_e(a.title)}">',
        f'<meta property="og:description" content="{_e(a.description)}">',
        f'<meta property="og:url" content="{_e(base + a.canonical_path)}">',
        f'<meta property="og:image" content="{base}/media/photos/{a.slug}.svg">',
        f'<meta property="og:locale" content="{"de_DE" if a.language == "de" else "en_GB"}">',
        f'<meta property="article:published_time" content="{_iso(a.published)}">',
        f'<meta property="article:modified_time" content="{_iso(a.last_modified)}">',
        f'<meta property="article:section" content="{_e(SECTION_LABELS.get(a.section, a.section))}">',
        *[f'<meta property="article:tag" content="{_e(t)}">' for t in a.tags],
        f'<meta name="author" content="{_e(", ".join(a.authors))}">',
        _json_ld(a, base),
    ]
    head = _head(f"{a.title} | {SITE_NAME}", base, canonical=a.canonical_path, description=a.description,
                 extra="\n".join(meta))

    paragraphs = _body_paragraphs(a)
    figure = (f'<figure class="lead-photo"><img src="/media/photos/{a.slug}.svg" width="960" height="540" '
              f'alt=""><figcaption>{PHOTO_CAPTION}. <span class="credit">{PHOTO_CREDIT} / Ines Varga</span>'
              f"</figcaption></figure>")
    paragraphs.insert(1, figure)  # the photo sits inside the article, after the first paragraph

    related = site.related(a)
    related_html = ""
    if related:
        items = "".join(f'<li><a href="{r.path}">{_e(r.title)}</a> <span class="summary">{_e(r.first_sentence)}</span></li>'
                        for r in related)
        related_html = f'<aside class="related-stories"><h2>{RELATED_HEADING}</h2><ul>{items}</ul></aside>'
    cont = site.continue_reading(a)
    continue_html = ""
    if cont:
        continue_html = (f'<section class="continue-reading"><h2>{CONTINUE_HEADING}</h2>'
                         f'<div class="label">{BREAKING_LABEL}</div>'
                         f'<article class="teaser"><h3><a href="{cont.path}">{_e(cont.title)}</a></h3>'
                         f'<p class="summary">{_e(cont.paragraphs[0])}</p>'
                         f'<a class="more" href="{cont.path}">Read the full story</a></article></section>')
    start = sum(map(ord, a.slug)) % len(COMMENTS)
    chosen = [COMMENTS[(start + k) % len(COMMENTS)] for k in range(2 + (len(a.slug) % 2))]
    comments_html = "".join(
        f'<li class="comment"><p class="comment-author">{_e(user)} <span>wrote:</span></p><p class="comment-text">{_e(text)}</p></li>'
        for user, text in chosen)

    links = [f'<a rel="author" class="author" href="/search?q={quote(n)}">{_e(n)}</a>' for n in a.authors]
    authors = links[0] if len(links) == 1 else ", ".join(links[:-1]) + " and " + links[-1]
    updated = ""
    if a.modified and a.modified != a.published:
        updated = f' · Updated <time class="updated" datetime="{_iso(a.modified)}">{_human(a.modified)}</time>'
    tags = "".join(f'<li><a href="{tag_path(t)}" rel="tag">{_e(t)}</a></li>' for t in a.tags)

    body = f"""{_header(base)}
<main id="main">
<article class="story">
<header class="story-header">
<p class="kicker"><a href="/section/{a.section}">{_e(SECTION_LABELS.get(a.section, a.section))}</a></p>
<h1 class="headline">{_e(a.title)}</h1>
<p class="standfirst">{_e(a.description)}</p>
<p class="byline">By {authors}</p>
<p class="dateline"><time class="published" datetime="{_iso(a.published)}">{_human(a.published)}</time>{updated}</p>
</header>
<div class="article-body">
{chr(10).join(paragraphs)}
</div>
<p class="corrections">{_e(CORRECTIONS_TEXT)}</p>
<ul class="tags">{tags}</ul>
</article>
{related_html}
<div class="newsletter"><p>{_e(NEWSLETTER_TEXT)}.</p><form action="/newsletter" method="post"><input type="email" name="email"><button>Sign up</button></form></div>
<div class="subscribe"><p>{_e(SUBSCRIBE_TEXT)}</p></div>
{continue_html}
<section class="comments" id="comments"><h2>{COMMENTS_HEADING} ({len(chosen)})</h2><ol>{comments_html}</ol></section>
</main>
{_footer()}"""
    return _document(a.language, head, body)


def too_short_page(a: Article, base: str) -> str:
    head = _head(f"{a.title} | {SITE_NAME}", base, canonical=a.path, description=a.description,
                 extra='<meta property="og:type" content="article">')
    body = f"""{_header(base)}
<main id="main"><article class="story live"><h1>{_e(a.title)}</h1>
<p>{_e(a.paragraphs[0])}</p></article></main>
{_footer()}"""
    return _document("en", head, body)


_BIG_CACHE: dict[str, bytes] = {}


def too_large_page(a: Article, base: str, min_bytes: int = 6_500_000) -> bytes:
    """An article-looking page of more than 6 MB (a huge data table). Cached per base URL."""
    if base in _BIG_CACHE:
        return _BIG_CACHE[base]
    row = ("<tr><td>{i}</td><td>Programme line {i}</td><td>Ministry of Finance</td>"
           "<td>{a:,}</td><td>{b:,}</td><td>{c:+.1f}%</td></tr>\n")
    rows, size, i = [], 0, 0
    while size < min_bytes:
        r = row.format(i=i, a=1000 + i * 37 % 99991, b=1100 + i * 53 % 99989, c=((i * 7) % 200 - 100) / 10)
        rows.append(r)
        size += len(r)
        i += 1
    head = _head(f"{a.title} | {SITE_NAME}", base, canonical=a.path, description=a.description,
                 extra='<meta property="og:type" content="article">')
    body = (f"{_header(base)}\n<main id=\"main\"><article class=\"story\"><h1>{_e(a.title)}</h1>"
            f"<p>{_e(a.paragraphs[0])}</p><table><thead><tr><th>#</th><th>Line</th><th>Owner</th><th>2025</th>"
            f"<th>2026</th><th>Change</th></tr></thead><tbody>\n{''.join(rows)}</tbody></table></article></main>\n{_footer()}")
    data = _document("en", head, body).encode("utf-8")
    _BIG_CACHE.clear()
    _BIG_CACHE[base] = data
    return data


# --- listing pages -------------------------------------------------------------------------

def home_page(site: DemoSite, base: str) -> str:
    latest = site.latest(HOME_SIZE)
    traps = site.traps
    teasers = []
    for i, a in enumerate(latest):
        extra = f' · <a href="{a.path}#comments">3 comments</a>' if i == 0 else ""
        teasers.append(_teaser(a, extra=extra))
    sections = "".join(
        f'<li><a href="/section/{s}">{_e(SECTION_LABELS[s])}</a> ({len(site.in_section(s))} stories)</li>'
        for s in SECTIONS)
    tracked = site.tracking_article
    redirect_target = site.articles[0] if site.articles else None
    private, too_short, too_large = (site.by_path[traps[k]] for k in ("private", "too_short", "too_large"))
    tags = sorted({t for a in latest for t in a.tags})[:12]
    body = f"""{_header(base)}
<main id="main">
<h1>{_e(SITE_NAME)}</h1>
<section class="top-stories"><h2>Latest news</h2>
{chr(10).join(teasers)}
</section>
<section class="newsletter-picks"><h2>From this morning's newsletter</h2>
<ul><li><a href="{_e(traps['tracking'])}">{_e(tracked.title)}</a></li>
<li><a href="{traps['redirect']}">{_e(redirect_target.title if redirect_target else "")}</a> (short link)</li></ul></section>
<section class="more"><h2>More from the Courier</h2><ul>
<li><a href="{too_short.path}">{_e(too_short.title)}</a></li>
<li><a href="{too_large.path}">{_e(too_large.title)}</a></li>
<li><a href="{private.path}">{_e(private.title)}</a></li>
<li><a href="{traps['missing']}">From the archive: the story that never was</a></li>
<li><a href="{traps['calendar']}">Browse the archive by month</a></li>
<li><a href="{traps['search']}">Everything about the harbour</a></li>
<li><a href="{traps['tag']}">Topic: {_e(traps['tag'].rsplit('/', 1)[-1])}</a></li>
</ul></section>
<section class="sections"><h2>Sections</h2><ul>{sections}</ul></section>
<section class="topics"><h2>Topics</h2><ul>{"".join(f'<li><a href="{tag_path(t)}">{_e(t)}</a></li>' for t in tags)}</ul></section>
</main>
{_footer()}"""
    return _document("en", _head(f"{SITE_NAME}: news from Port Calder and the world", base, canonical="/",
                                 description="Independent news since 1891."), body)


def _listing(base: str, title: str, heading: str, articles: list[Article], *, canonical: str | None,
             nav: str = "", robots: str | None = None, intro: str = "") -> str:
    items = "\n".join(_teaser(a) for a in articles) or '<p class="empty">No stories.</p>'
    body = f"""{_header(base)}
<main id="main"><h1>{_e(heading)}</h1>{intro}
<section class="listing">
{items}
</section>
{nav}
</main>
{_footer()}"""
    return _document("en", _head(f"{title} | {SITE_NAME}", base, canonical=canonical, robots=robots), body)


def section_page(site: DemoSite, section: str, page: int, base: str) -> str:
    items = site.in_section(section)
    last = site.section_pages(section)
    chunk = items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    links = []
    if page > 1:
        prev = f"/section/{section}" if page == 2 else f"/section/{section}?page={page - 1}"
        links.append(f'<a rel="prev" class="prev" href="{prev}">Previous</a>')
    links.append(f'<span class="page">Page {page} of {last}</span>')
    if page < last:
        links.append(f'<a rel="next" class="next" href="/section/{section}?page={page + 1}">Next</a>')
    nav = f'<nav class="pagination">{" ".join(links)}</nav>'
    canonical = f"/section/{section}" if page == 1 else f"/section/{section}?page={page}"
    label = SECTION_LABELS[section]
    return _listing(base, f"{label} – page {page}", label, chunk, canonical=canonical, nav=nav)


def tag_page(site: DemoSite, tag_slug: str, base: str) -> str:
    return _listing(base, f"Topic: {tag_slug}", f"Stories tagged “{tag_slug}”", site.with_tag(tag_slug),
                    canonical=f"/tag/{tag_slug}", robots="noindex, follow")


def search_page(site: DemoSite, query: str, base: str) -> str:
    hits = site.search(query)
    intro = f'<p class="search-summary">{len(hits)} results for “{_e(query)}”</p>'
    return _listing(base, f"Search: {query}", "Search", hits, canonical=None, robots="noindex, follow", intro=intro)


def calendar_page(site: DemoSite, year: int, month: int, base: str) -> str:
    py, pm = (year - 1, 12) if month == 1 else (year, month - 1)
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    nav = (f'<nav class="calendar-nav"><a rel="prev" href="/calendar/{py:04d}/{pm:02d}">← {py:04d}-{pm:02d}</a> '
           f'<a rel="next" href="/calendar/{ny:04d}/{nm:02d}">{ny:04d}-{nm:02d} →</a></nav>')
    label = f"{year:04d}-{month:02d}"
    return _listing(base, f"Archive {label}", f"Archive for {label}", site.in_month(year, month),
                    canonical=f"/calendar/{year:04d}/{month:02d}", nav=nav)


def not_found_page(base: str, path: str) -> str:
    body = f"""{_header(base)}
<main id="main"><h1>Page not found</h1>
<p>Sorry, we could not find <code>{_e(path)}</code>. It may have been moved or deleted.</p>
<p><a href="/">Back to the front page</a></p></main>
{_footer()}"""
    return _document("en", _head(f"Page not found | {SITE_NAME}", base, robots="noindex"), body)


def unavailable_page(base: str) -> str:
    return _document("en", _head(f"Temporarily unavailable | {SITE_NAME}", base, robots="noindex"),
                     "<main><h1>Service temporarily unavailable</h1><p>Please try again in a moment.</p></main>")


# --- machine-readable ----------------------------------------------------------------------

def robots_txt(base: str) -> str:
    return f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap_index.xml\n"


def sitemap_index(site: DemoSite, base: str) -> str:
    lastmod = _iso(max(a.last_modified for a in site.articles)) if site.articles else ""
    entries = "".join(f"<sitemap><loc>{base}{p}</loc><lastmod>{lastmod}</lastmod></sitemap>\n"
                      for p in ("/sitemap-news.xml", "/sitemap-articles.xml"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + entries + "</sitemapindex>\n")


def sitemap_news(site: DemoSite, base: str) -> str:
    entries = []
    for a in site.latest(NEWS_SITEMAP_SIZE):
        entries.append(
            f"<url><loc>{_e(base + a.path)}</loc><news:news><news:publication>"
            f"<news:name>{_e(SITE_NAME)}</news:name><news:language>{a.language}</news:language></news:publication>"
            f"<news:publication_date>{_iso(a.published)}</news:publication_date>"
            f"<news:title>{_e(a.title)}</news:title></news:news></url>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + "".join(entries) + "</urlset>\n")


def sitemap_articles(site: DemoSite, base: str) -> str:
    entries = "".join(f"<url><loc>{_e(base + a.path)}</loc><lastmod>{_iso(a.last_modified)}</lastmod></url>\n"
                      for a in site.articles)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + entries + "</urlset>\n")


def rss_feed(site: DemoSite, base: str) -> str:
    items = []
    for a in site.latest(FEED_SIZE):
        creators = "".join(f"<dc:creator>{_e(n)}</dc:creator>" for n in a.authors)
        cats = "".join(f"<category>{_e(t)}</category>" for t in a.tags)
        items.append(f"<item><title>{_e(a.title)}</title><link>{base}{a.path}</link>"
                     f'<guid isPermaLink="true">{base}{a.path}</guid><pubDate>{format_datetime(a.published)}</pubDate>'
                     f"{creators}{cats}<description>{_e(a.description)}</description></item>\n")
    built = format_datetime(site.articles[0].last_modified) if site.articles else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
            f"<channel><title>{_e(SITE_NAME)}</title><link>{base}/</link>"
            f"<description>Latest news from {_e(SITE_NAME)}</description><language>en</language>"
            f"<lastBuildDate>{built}</lastBuildDate>"
            f'<atom:link href="{base}/feed.xml" rel="self" type="application/rss+xml"/>\n'
            + "".join(items) + "</channel></rss>\n")


def placeholder_svg(label: str) -> str:
    """A grey 16:9 placeholder picture (photos and the logo); the text lives in the image, not the page."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="960" height="540" viewBox="0 0 960 540">'
            '<rect width="960" height="540" fill="#9aa5b1"/>'
            f'<text x="480" y="280" font-size="36" text-anchor="middle" fill="#f5f7fa">{_e(label)}</text></svg>')


def tiny_pdf() -> bytes:
    """A small valid one-page PDF (with a correct xref table)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        None,  # content stream, below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    stream = b"BT /F1 18 Tf 72 760 Td (Northmere Energy Annual Report 2024) Tj ET"
    objects[3] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
