"""settings.toml, read once into typed, validated objects.

Every other module receives these objects; none reads the file or the environment itself
(except the Elasticsearch credentials, which are taken from the environment here and nowhere
else). A bad value raises ConfigError naming the key, e.g. ``sites["mine"].article_allow[0]``.

Environment variables that override the file (for containers):

    ARCHIVE_CONFIG           path of the settings file (default: the first of ./settings.toml, the one
                             beside the installed archive, ~/.config/newsroom-archive/settings.toml)
    ARCHIVE_DATA_DIR         data folder (crawl state, spool, WARC, job store, local node)
    ELASTICSEARCH_URL        e.g. https://elasticsearch:9200; a cluster: every node, comma-separated
                             (user:password@ in it moves to the credentials below, never into messages)
    ELASTICSEARCH_USERNAME   basic auth user (with ELASTICSEARCH_PASSWORD); with no credentials
                             set, search/client.py uses those `archive es start` generated
    ELASTICSEARCH_PASSWORD
    ELASTICSEARCH_API_KEY    API key (base64 "id:key"); wins over basic auth
    ELASTICSEARCH_CA_CERTS   CA certificate file for HTTPS
    ES_HEAP                  heap of the local development node, e.g. 1g
    ARCHIVE_SCHEDULE_CRON    cron expression of the nightly crawl
    ARCHIVE_SCHEDULE_TIMEZONE
    ARCHIVE_MAX_CONCURRENT_CRAWLS  crawls at once on this machine (schedule.max_concurrent_crawls)
    ARCHIVE_BROKER_URL       the crawl queue's broker, e.g. redis://redis:6379/0 (queue.broker_url)
    ARCHIVE_WORKER_CONCURRENCY  crawls at once in `archive worker` (worker.concurrency)
    ARCHIVE_CRAWL_STATE      "sqlite" or "elasticsearch" (crawl.state)
    ARCHIVE_WARC_STORAGE     where closed WARC files are copied for every machine (warc.storage):
                             file:///shared/folder or s3://bucket/prefix
    AWS_ENDPOINT_URL         the S3 server of warc.storage = "s3://..." (warc.endpoint_url); none: AWS
    AWS_REGION               its region (warc.region)
    AWS_ACCESS_KEY_ID        S3 credentials (with AWS_SECRET_ACCESS_KEY; AWS_SESSION_TOKEN if any),
    AWS_SECRET_ACCESS_KEY    never in settings.toml
    ARCHIVE_TIMEZONE         the newsroom's time zone: dates on the search page are shown in it
    ARCHIVE_PUBLIC_URL       the search page's address as readers reach it (links in feeds, mail)
    ARCHIVE_ALERT_WEBHOOK_URL  saved-search alerts are POSTed there as JSON (e.g. a chat channel)
    ARCHIVE_SMTP_HOST        alert e-mail through this SMTP server (no host: no e-mail)
    ARCHIVE_SMTP_PORT        default 25
    ARCHIVE_SMTP_USERNAME    SMTP login (with ARCHIVE_SMTP_PASSWORD)
    ARCHIVE_SMTP_PASSWORD
    ARCHIVE_SMTP_STARTTLS    1 to upgrade the connection with STARTTLS
    ARCHIVE_ALERT_EMAIL_FROM sender of alert e-mail
    ARCHIVE_ALERT_EMAIL_TO   recipients of alert e-mail, comma-separated
    ARCHIVE_SESSION_IDLE_HOURS  a signed-in session of `archive serve` ends after this long unused
    ARCHIVE_AUDIT_SEARCHES   1 to record the text of every search in the audit trail
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_CONFIG = Path("settings.toml")
# Where the archive lives: an editable install (make install) keeps settings.toml beside the code.
INSTALLED_CONFIG = Path(__file__).resolve().parent.parent / "settings.toml"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class ElasticsearchSettings:
    url: str = "http://127.0.0.1:9200"
    # Every node of a cluster (url is the first): `url = [..]` in settings.toml or a
    # comma-separated ELASTICSEARCH_URL. The client spreads requests and fails over among them.
    urls: tuple[str, ...] = ()
    # Copies of each shard: "auto" gives 1 when the cluster has more than one data node, else 0.
    replicas: str = "auto"
    articles_alias: str = "articles"
    versions_alias: str = "article-versions"
    runs_index: str = "crawl-runs"
    alerts_alias: str = "saved-searches"
    state_alias: str = "crawl-state"  # per-URL crawl state, with crawl.state = "elasticsearch"
    audit_alias: str = "archive-audit"
    request_timeout: float = 30.0
    bulk_size: int = 200
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: str | None = None

    def with_index_prefix(self, prefix: str) -> "ElasticsearchSettings":
        """The same cluster with index names of their own (<prefix>-articles, ...): tests, benchmarks."""
        return replace(
            self,
            articles_alias=f"{prefix}-articles",
            versions_alias=f"{prefix}-versions",
            runs_index=f"{prefix}-runs",
            alerts_alias=f"{prefix}-alerts",
            state_alias=f"{prefix}-state",
            audit_alias=f"{prefix}-audit",
        )

    @property
    def hosts(self) -> tuple[str, ...]:
        return self.urls or (self.url,)

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 9200)


@dataclass(frozen=True)
class LocalNodeSettings:
    """The development/test node run from Elastic's Maven Central distribution."""

    version: str = "9.5.4"
    heap: str = "512m"
    user: str = "archive-es"
    start_timeout: float = 180.0


@dataclass(frozen=True)
class CrawlSettings:
    user_agent: str = "NewsroomArchiveBot/0.1 (+https://newsroom.example/archive-bot)"
    obey_robots: bool = True
    concurrent_requests_per_host: int = 4
    download_delay: float = 0.25
    autothrottle: bool = True
    download_timeout: float = 30.0
    max_response_bytes: int = 5_000_000
    retry_times: int = 3
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 60.0
    time_limit: float = 3600.0
    progress_interval: float = 5.0
    recheck_days: int = 7
    bad_url_retry_days: float = 7.0       # a 404/410, too-large or non-HTML URL is left alone this long,
    bad_url_retry_max_days: float = 90.0  # doubled after each further failure, up to this; 0 = always ask
    extraction_workers: int = 0  # processes extracting articles per crawl; 0: sized to the memory budget
    extraction_timeout: float = 20.0  # seconds one page may take to extract; then extraction-timeout, worker replaced
    max_links_per_page: int = 5000  # links taken from one page; the rest are counted and left
    memory_budget_mb: int = 2048  # what the crawls running at once on a machine may use together
    state: str = "sqlite"  # where the per-URL crawl state lives: "sqlite" (data_dir) or "elasticsearch" (shared)


@dataclass(frozen=True)
class ExtractionSettings:
    min_words: int = 60
    include_comments: bool = False
    include_tables: bool = True
    favor_precision: bool = False  # trafilatura balanced: the reference text; crawler/scoring.py trims it
    max_body_bytes: int = 1_000_000
    keep_short_articles: bool = True  # under min_words: keep a dated, headlined article page (flag short)
    low_confidence: float = 0.5  # an article whose body confidence is below: listed and marked


@dataclass(frozen=True)
class ScheduleSettings:
    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    misfire_grace_seconds: int = 3600
    per_site: bool = True
    max_concurrent_crawls: int = 0  # crawl processes at once on this machine; 0: cores / 2, at least 1

    @property
    def crawl_slots(self) -> int:
        return self.max_concurrent_crawls or max(1, (os.cpu_count() or 1) // 2)


@dataclass(frozen=True)
class WarcSettings:
    """Raw captures every machine can read: "" keeps them in <data_dir>/warc only; "file:///path"
    copies each closed WARC file into a folder every machine mounts (NFS, a shared disk);
    "s3://bucket/prefix" uploads it to an S3 bucket (AWS or any server that speaks S3)."""

    storage: str = ""
    endpoint_url: str = ""  # S3 server, e.g. http://127.0.0.1:8333 (AWS_ENDPOINT_URL); "" = AWS
    region: str = ""        # AWS_REGION; "" lets the server say
    # From the environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)

    @property
    def is_s3(self) -> bool:
        return self.storage.startswith("s3://")

    @property
    def shared_dir(self) -> Path | None:
        """The shared folder of "file:///path" (None for S3 or no storage)."""
        return Path(urlsplit(self.storage).path) if self.storage and not self.is_s3 else None


@dataclass(frozen=True)
class QueueSettings:
    """The crawl queue (Celery). No broker: crawls run where they are started, as always."""

    broker_url: str = field(default="", repr=False)  # may hold a password: never printed
    # A site's lock outlives a crawl's time limit by this much, so a dead worker's lock expires.
    lock_margin_seconds: float = 600.0

    @property
    def enabled(self) -> bool:
        return bool(self.broker_url)


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 0  # crawls at once in one `archive worker`; 0: schedule.max_concurrent_crawls


@dataclass(frozen=True)
class SiteSettings:
    name: str
    start_urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    article_allow: tuple[str, ...] = ()
    article_deny: tuple[str, ...] = ()
    follow_allow: tuple[str, ...] = ()
    follow_deny: tuple[str, ...] = ()
    robots_sitemaps: bool = True
    max_pages: int = 5000
    max_depth: int = 3
    max_age_days: int = 0

    def is_article_url(self, url: str) -> bool:
        path = _path_and_query(url)
        if any(re.search(p, path) for p in self.article_deny):
            return False
        return any(re.search(p, path) for p in self.article_allow)

    def may_follow(self, url: str) -> bool:
        """Listing pages (sections, pagination) worth following for links."""
        path = _path_and_query(url)
        if any(re.search(p, path) for p in self.follow_deny):
            return False
        return not self.follow_allow or any(re.search(p, path) for p in self.follow_allow)


@dataclass(frozen=True)
class DemoSiteSettings:
    host: str = "127.0.0.1"
    port: int = 8701


@dataclass(frozen=True)
class NewsroomSettings:
    """How the archive speaks to the newsroom: dates on the page read in its time zone."""

    timezone: str = "UTC"


@dataclass(frozen=True)
class AlertSettings:
    """Delivery of saved-search alerts. The Atom feed needs nothing; webhook and e-mail are optional."""

    public_url: str = "http://127.0.0.1:8800"  # where readers reach `archive serve` (links in feeds, mail)
    webhook_url: str = ""
    webhook_timeout: float = 5.0
    webhook_attempts: int = 3  # tries within one delivery round (1 s, 2 s apart)
    deliver_every: float = 20.0  # seconds between delivery rounds (scheduler, beside `archive crawl`): they match and send
    retry_first: float = 60.0  # seconds before the first retry of a failed delivery; doubles, at most an hour
    retry_hours: float = 24.0  # a delivery still failing this long after its first try is given up (and shown)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str | None = field(default=None, repr=False)
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    email_from: str = "archive@localhost"
    email_to: tuple[str, ...] = ()  # recipients of searches whose owner has no e-mail and that name none


@dataclass(frozen=True)
class WebSettings:
    """`archive serve`: the signed-in sessions of the search page and the JSON API."""

    session_idle_hours: float = 12.0  # a session unused this long ends


@dataclass(frozen=True)
class AuditSettings:
    """The audit trail (search/audit.py). Sign-ins, exports and saved-search changes are always
    recorded; the text of ordinary searches only when asked: what reporters look into is theirs."""

    searches: bool = False


@dataclass(frozen=True)
class SearchSettings:
    """Bounds on what one query may ask (HTTP API, page, CLI, saved searches): a hostile or
    accidental giant query is refused with a message naming the limit, before it costs anything."""

    max_query_chars: int = 1000
    max_query_terms: int = 100       # words, phrases and operators, counted before parsing
    max_fuzzy_chars: int = 30        # word~ on longer words makes Elasticsearch's automaton explode
    max_query_depth: int = 10        # nested parentheses and NOTs (Elasticsearch refuses more than 30 nested bools)
    max_body_bytes: int = 65536      # HTTP request bodies (forms) of `archive serve`
    # Hits are counted exactly up to this many, then shown as "more than ..." (0: always exactly;
    # counting every match of a common word in a million articles is most of a search's time).
    count_limit: int = 10_000
    # Past count_limit the facets (sites, the coverage chart) are counted on a random sample
    # of the matches, this share of them, and shown as "about N"; below it they stay exact.
    # 0: always every match (docs/scaling.md has what each costs). Elasticsearch's
    # random_sampler takes a share below 0.5.
    facet_sample: float = 0.1
    # What the archive holds (sites, languages, tags) is asked at most this often; a typed word
    # is stemmed only for the languages held, and filters are checked against these values.
    holdings_seconds: float = 60.0


@dataclass(frozen=True)
class Settings:
    path: Path | None
    data_dir: Path
    elasticsearch: ElasticsearchSettings
    local_node: LocalNodeSettings
    crawl: CrawlSettings
    extraction: ExtractionSettings
    schedule: ScheduleSettings
    demo_site: DemoSiteSettings
    sites: tuple[SiteSettings, ...]
    alerts: AlertSettings = AlertSettings()
    newsroom: NewsroomSettings = NewsroomSettings()
    search: SearchSettings = SearchSettings()
    web: WebSettings = WebSettings()
    audit: AuditSettings = AuditSettings()
    queue: QueueSettings = QueueSettings()
    worker: WorkerSettings = WorkerSettings()
    warc: WarcSettings = WarcSettings()

    def site(self, name: str) -> SiteSettings:
        for site in self.sites:
            if site.name == name:
                return site
        known = ", ".join(s.name for s in self.sites) or "none"
        raise ConfigError(f"unknown site {name!r} (configured: {known})")

    def select_sites(self, names: tuple[str, ...] | list[str] = ()) -> list[SiteSettings]:
        return [self.site(n) for n in names] if names else list(self.sites)


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def user_config(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "newsroom-archive" / "settings.toml"


def config_candidates(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Where settings.toml is looked for when neither --config nor ARCHIVE_CONFIG names one."""
    return list(dict.fromkeys([DEFAULT_CONFIG, INSTALLED_CONFIG, user_config(env)]))


def config_path(explicit: str | os.PathLike | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """The settings file to read: the one named, else the first candidate that exists (else the
    working directory's, so a message or `sites add` names a sensible place)."""
    if explicit or env.get("ARCHIVE_CONFIG"):
        return Path(explicit or env["ARCHIVE_CONFIG"])
    return next((p for p in config_candidates(env) if p.is_file()), DEFAULT_CONFIG)


def load_settings(
    path: str | os.PathLike | None = None, env: Mapping[str, str] = os.environ
) -> Settings:
    """Read the settings file (or ARCHIVE_CONFIG) and apply environment overrides."""
    file = config_path(path, env)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if path or env.get("ARCHIVE_CONFIG"):
            named = "--config" if path else "ARCHIVE_CONFIG"
            raise ConfigError(f"settings file not found: {file} (named by {named}; set ARCHIVE_CONFIG or --config to a file that exists)") from None
        looked = ", ".join(str(p) for p in config_candidates(env))
        raise ConfigError(f"settings file not found; looked in {looked} (set ARCHIVE_CONFIG or --config)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return settings_from_dict(raw, base_dir=file.resolve().parent, env=env, path=file)


def settings_from_dict(
    raw: Mapping[str, Any],
    base_dir: Path = Path("."),
    env: Mapping[str, str] = os.environ,
    path: Path | None = None,
) -> Settings:
    raw = dict(raw)
    known = {"data_dir", "elasticsearch", "local_node", "crawl", "extraction", "schedule", "demo_site", "sites", "alerts", "newsroom",
             "search", "web", "audit", "queue", "worker", "warc"}
    _reject_unknown(raw, known, "")

    data_dir = Path(env.get("ARCHIVE_DATA_DIR") or _typed(raw, "data_dir", str, "", "var"))
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir

    es_raw = dict(_section(raw, "elasticsearch"))
    if env.get("ELASTICSEARCH_URL"):
        es_raw["url"] = env["ELASTICSEARCH_URL"]
    if isinstance(es_raw.get("url"), (list, str)):
        listed = es_raw["url"] if isinstance(es_raw["url"], list) else es_raw["url"].split(",")
        urls = [u.strip() for u in listed if isinstance(u, str) and u.strip()]
        if urls and (isinstance(es_raw["url"], list) or len(urls) > 1):
            es_raw["url"], es_raw["urls"] = urls[0], urls
    if isinstance(es_raw.get("replicas"), int) and not isinstance(es_raw.get("replicas"), bool):
        es_raw["replicas"] = str(es_raw["replicas"])
    es = _build(ElasticsearchSettings, es_raw, "elasticsearch", exclude={"username", "password", "api_key", "ca_certs"})
    es = _with_credentials(es, env)
    es = _credentials_out_of_urls(es)
    for url in es.hosts:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ConfigError(f"elasticsearch.url: expected http(s)://host:port, got {url!r}")
    if not re.fullmatch(r"auto|\d+", es.replicas):
        raise ConfigError(f"elasticsearch.replicas: expected \"auto\" or a number of copies, got {es.replicas!r}")

    node_raw = dict(_section(raw, "local_node"))
    if env.get("ES_HEAP"):
        node_raw["heap"] = env["ES_HEAP"]
    node = _build(LocalNodeSettings, node_raw, "local_node")
    if not re.fullmatch(r"\d+[mg]", node.heap):
        raise ConfigError(f"local_node.heap: expected a size like 512m or 1g, got {node.heap!r}")

    crawl_raw = dict(_section(raw, "crawl"))
    if env.get("ARCHIVE_CRAWL_STATE"):
        crawl_raw["state"] = env["ARCHIVE_CRAWL_STATE"]
    crawl = _build(CrawlSettings, crawl_raw, "crawl")
    if crawl.state not in ("sqlite", "elasticsearch"):
        raise ConfigError(f"crawl.state: expected \"sqlite\" or \"elasticsearch\", got {crawl.state!r}")

    extraction = _build(ExtractionSettings, _section(raw, "extraction"), "extraction")

    sched_raw = dict(_section(raw, "schedule"))
    if env.get("ARCHIVE_SCHEDULE_CRON"):
        sched_raw["cron"] = env["ARCHIVE_SCHEDULE_CRON"]
    if env.get("ARCHIVE_SCHEDULE_TIMEZONE"):
        sched_raw["timezone"] = env["ARCHIVE_SCHEDULE_TIMEZONE"]
    if env.get("ARCHIVE_MAX_CONCURRENT_CRAWLS"):
        sched_raw["max_concurrent_crawls"] = _env_int(env, "ARCHIVE_MAX_CONCURRENT_CRAWLS")
    schedule = _build(ScheduleSettings, sched_raw, "schedule")
    _validate_schedule(schedule)

    demo = _build(DemoSiteSettings, _section(raw, "demo_site"), "demo_site")

    sites_raw = raw.get("sites", [])
    if not isinstance(sites_raw, list):
        raise ConfigError("sites: expected an array of [[sites]] tables")
    sites = tuple(_site(s, i) for i, s in enumerate(sites_raw))
    names = [s.name for s in sites]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"sites: duplicate site name(s): {', '.join(dupes)}")

    alerts = _alerts(_section(raw, "alerts"), env)
    queue, worker = _queue(_section(raw, "queue"), _section(raw, "worker"), env)
    warc = _warc(_section(raw, "warc"), env)

    newsroom_raw = dict(_section(raw, "newsroom"))
    if env.get("ARCHIVE_TIMEZONE"):
        newsroom_raw["timezone"] = env["ARCHIVE_TIMEZONE"]
    newsroom = _build(NewsroomSettings, newsroom_raw, "newsroom")
    try:
        zoneinfo.ZoneInfo(newsroom.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"newsroom.timezone: unknown time zone {newsroom.timezone!r} (e.g. Europe/Berlin)") from None

    search = _build(SearchSettings, _section(raw, "search"), "search")
    if not 0 <= search.facet_sample < 0.5:
        raise ConfigError(f"search.facet_sample: must be at least 0 and below 0.5, got {search.facet_sample}")

    web_raw = dict(_section(raw, "web"))
    if env.get("ARCHIVE_SESSION_IDLE_HOURS"):
        try:
            web_raw["session_idle_hours"] = float(env["ARCHIVE_SESSION_IDLE_HOURS"])
        except ValueError:
            raise ConfigError(f"ARCHIVE_SESSION_IDLE_HOURS: expected a number of hours, got {env['ARCHIVE_SESSION_IDLE_HOURS']!r}") from None
    web = _build(WebSettings, web_raw, "web")

    audit_raw = dict(_section(raw, "audit"))
    if env.get("ARCHIVE_AUDIT_SEARCHES"):
        audit_raw["searches"] = env["ARCHIVE_AUDIT_SEARCHES"].lower() in ("1", "true", "yes")
    audit = _build(AuditSettings, audit_raw, "audit")

    return Settings(
        path=path,
        data_dir=data_dir,
        elasticsearch=es,
        local_node=node,
        crawl=crawl,
        extraction=extraction,
        schedule=schedule,
        demo_site=demo,
        sites=sites,
        alerts=alerts,
        newsroom=newsroom,
        search=search,
        web=web,
        audit=audit,
        queue=queue,
        worker=worker,
        warc=warc,
    )


def _warc(raw: Mapping[str, Any], env: Mapping[str, str]) -> WarcSettings:
    raw = dict(raw)
    if env.get("ARCHIVE_WARC_STORAGE"):
        raw["storage"] = env["ARCHIVE_WARC_STORAGE"]
    warc = _build(WarcSettings, raw, "warc")
    if not warc.storage:
        return warc
    parts = urlsplit(warc.storage)
    if parts.scheme == "s3":
        return _s3(warc, parts, env)
    if parts.scheme != "file" or parts.netloc or not parts.path.startswith("/"):
        raise ConfigError(f"warc.storage: expected file:///absolute/path (a folder every machine mounts), got {warc.storage!r}")
    return warc


_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _s3(warc: WarcSettings, parts, env: Mapping[str, str]) -> WarcSettings:
    if not _S3_BUCKET.match(parts.netloc) or parts.query or parts.fragment or ".." in parts.path:
        raise ConfigError(f"warc.storage: expected s3://bucket/prefix (a bucket name of 3-63 lowercase letters, "
                          f"digits, dots or dashes), got {warc.storage!r}")
    if warc.access_key or warc.secret_key or warc.session_token:
        raise ConfigError("warc: no S3 keys in settings.toml; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                          "in the environment or .env")
    endpoint = env.get("AWS_ENDPOINT_URL") or warc.endpoint_url
    if endpoint:
        ends = urlsplit(endpoint)
        if ends.scheme not in ("http", "https") or not ends.hostname or ends.path.strip("/") or ends.username:
            raise ConfigError("warc.endpoint_url: expected http(s)://host:port of an S3 server (no path, no user), "
                              f"got one for {ends.hostname or 'no host'}")
    return replace(warc, endpoint_url=endpoint, region=env.get("AWS_REGION") or warc.region,
                   access_key=env.get("AWS_ACCESS_KEY_ID", ""), secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
                   session_token=env.get("AWS_SESSION_TOKEN", ""))


def _env_int(env: Mapping[str, str], name: str) -> int:
    if not env[name].strip().isdigit():
        raise ConfigError(f"{name}: expected a whole number, got {env[name]!r}")
    return int(env[name])


def _queue(queue_raw: Mapping[str, Any], worker_raw: Mapping[str, Any], env: Mapping[str, str]):
    queue_raw, worker_raw = dict(queue_raw), dict(worker_raw)
    if isinstance(queue_raw.get("broker_url"), str) and urlsplit(queue_raw["broker_url"]).password:
        raise ConfigError("queue.broker_url: no password in settings.toml; set ARCHIVE_BROKER_URL in the environment or .env")
    if env.get("ARCHIVE_BROKER_URL"):
        queue_raw["broker_url"] = env["ARCHIVE_BROKER_URL"]
    if env.get("ARCHIVE_WORKER_CONCURRENCY"):
        worker_raw["concurrency"] = _env_int(env, "ARCHIVE_WORKER_CONCURRENCY")
    queue = _build(QueueSettings, queue_raw, "queue")
    if queue.broker_url and urlsplit(queue.broker_url).scheme not in ("redis", "rediss"):
        # Only the scheme: the rest may hold a password.
        raise ConfigError(f"queue.broker_url: expected redis://host:port/db (or rediss://), got a {urlsplit(queue.broker_url).scheme or 'schemeless'} URL")
    worker = _build(WorkerSettings, worker_raw, "worker")
    return queue, worker


def _alerts(raw: Mapping[str, Any], env: Mapping[str, str]) -> AlertSettings:
    raw = dict(raw)
    for key, name in (("public_url", "ARCHIVE_PUBLIC_URL"), ("webhook_url", "ARCHIVE_ALERT_WEBHOOK_URL"),
                      ("smtp_host", "ARCHIVE_SMTP_HOST"), ("email_from", "ARCHIVE_ALERT_EMAIL_FROM")):
        if env.get(name):
            raw[key] = env[name]
    if env.get("ARCHIVE_SMTP_PORT"):
        if not env["ARCHIVE_SMTP_PORT"].isdigit():
            raise ConfigError(f"ARCHIVE_SMTP_PORT: expected a port number, got {env['ARCHIVE_SMTP_PORT']!r}")
        raw["smtp_port"] = int(env["ARCHIVE_SMTP_PORT"])
    if env.get("ARCHIVE_SMTP_STARTTLS"):
        raw["smtp_starttls"] = env["ARCHIVE_SMTP_STARTTLS"].lower() in ("1", "true", "yes")
    if env.get("ARCHIVE_ALERT_EMAIL_TO"):
        raw["email_to"] = [a.strip() for a in env["ARCHIVE_ALERT_EMAIL_TO"].split(",") if a.strip()]
    alerts = _build(AlertSettings, raw, "alerts", exclude={"smtp_username", "smtp_password"})
    alerts = replace(alerts, smtp_username=env.get("ARCHIVE_SMTP_USERNAME") or None, smtp_password=env.get("ARCHIVE_SMTP_PASSWORD") or None)
    for key in ("public_url", "webhook_url"):
        value = getattr(alerts, key)
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ConfigError(f"alerts.{key}: expected an http(s) URL, got {value!r}")
    return alerts


def _with_credentials(es: ElasticsearchSettings, env: Mapping[str, str]) -> ElasticsearchSettings:
    return replace(
        es,
        username=env.get("ELASTICSEARCH_USERNAME") or None,
        password=env.get("ELASTICSEARCH_PASSWORD") or None,
        api_key=env.get("ELASTICSEARCH_API_KEY") or None,
        ca_certs=env.get("ELASTICSEARCH_CA_CERTS") or None,
    )


def _credentials_out_of_urls(es: ElasticsearchSettings) -> ElasticsearchSettings:
    """http://user:password@host:9200 -> the URL without them, the credentials as basic auth
    (unless given in the environment): a URL is printed in messages, a password never."""
    found: tuple[str | None, str | None] = (None, None)
    clean = []
    for url in es.hosts:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            found = found if found[0] else (unquote(parts.username or ""), unquote(parts.password or ""))
            url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
        clean.append(url)
    if found == (None, None):
        return es
    username, password = (es.username, es.password) if es.username else found
    return replace(es, url=clean[0], urls=tuple(clean) if es.urls else (), username=username or None, password=password or None)


def _validate_schedule(schedule: ScheduleSettings) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        zoneinfo.ZoneInfo(schedule.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"schedule.timezone: unknown time zone {schedule.timezone!r}") from None
    try:
        CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
    except ValueError as exc:
        raise ConfigError(f"schedule.cron: {schedule.cron!r} is not a cron expression ({exc})") from None


def _site(raw: Any, index: int) -> SiteSettings:
    if not isinstance(raw, dict):
        raise ConfigError(f"sites[{index}]: expected a table")
    # Named as the operator knows it (sites["mine"]); by position only when the name is unusable.
    name = raw.get("name")
    key = f'sites["{name}"]' if isinstance(name, str) and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) else f"sites[{index}]"
    site = _build(SiteSettings, raw, key)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", site.name):
        raise ConfigError(f"{key}.name: use lowercase letters, digits, '-' or '_', got {site.name!r}")
    if not (site.start_urls or site.sitemaps or site.feeds):
        raise ConfigError(f"{key}: give at least one of start_urls, sitemaps, feeds")
    for list_key in ("start_urls", "sitemaps", "feeds"):
        for i, url in enumerate(getattr(site, list_key)):
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                raise ConfigError(f"{key}.{list_key}[{i}]: not an http(s) URL: {url!r}")
    if not site.allowed_domains:
        # Stay on the hosts the site was configured with, never the whole web.
        hosts = {urlsplit(u).hostname for u in site.start_urls + site.sitemaps + site.feeds}
        site = replace(site, allowed_domains=tuple(sorted(h for h in hosts if h)))
    for i, entry in enumerate(site.allowed_domains):
        port = re.fullmatch(r"[A-Za-z0-9.-]+(?::(\d{1,5}))?", entry)
        if port is None or int(port.group(1) or 1) > 65535:
            raise ConfigError(f"{key}.allowed_domains[{i}]: expected a host name with an optional port "
                              f"(news.example, 127.0.0.1:8701), got {entry!r}")
    for list_key in ("article_allow", "article_deny", "follow_allow", "follow_deny"):
        for i, pattern in enumerate(getattr(site, list_key)):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{key}.{list_key}[{i}]: bad regular expression {pattern!r}: {exc}") from None
            if re.search(r"^\^?https?:|://", pattern):  # can never match: a path has no scheme or host
                raise ConfigError(
                    f"{key}.{list_key}[{i}]: {pattern!r} looks like a full URL; patterns are matched against "
                    "the path and query only, e.g. '^/\\d{4}/\\d{2}/\\d{2}/[a-z0-9-]+$' for /2025/03/14/slug"
                )
    if not site.article_allow:
        raise ConfigError(f"{key}.article_allow: give at least one pattern of article URLs")
    return site


def _section(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table [{key}]")
    return value


def _build(cls, raw: Mapping[str, Any], prefix: str, exclude: set[str] = frozenset()):
    fields = {f.name: f for f in cls.__dataclass_fields__.values() if f.name not in exclude}
    _reject_unknown(raw, set(fields), prefix)
    kwargs = {}
    for name, f in fields.items():
        if name not in raw:
            if f.default is f.default_factory:  # both MISSING: required
                raise ConfigError(f"{prefix}.{name}: required")
            continue
        kwargs[name] = _coerce(raw[name], f.type, f"{prefix}.{name}")
    built = cls(**kwargs)
    _check_ranges(built, prefix)
    return built


def _coerce(value: Any, type_name: str, key: str) -> Any:
    expected = str(type_name)
    if expected.startswith("tuple"):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return tuple(value)
    if expected == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if expected == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if expected == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if expected.startswith("str"):
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def _typed(raw: Mapping[str, Any], key: str, typ: type, prefix: str, default: Any) -> Any:
    value = raw.get(key, default)
    if not isinstance(value, typ):
        raise ConfigError(f"{prefix}{key}: expected {typ.__name__}, got {value!r}")
    return value


# The range of every number in the settings: (lowest, highest), None = no bound; a lowest given
# as a float excludes itself (greater than 0), an int includes itself.
RANGES: dict[type, dict[str, tuple[float | None, float | None]]] = {
    ElasticsearchSettings: {"request_timeout": (0.0, None), "bulk_size": (1, None)},
    LocalNodeSettings: {"start_timeout": (0.0, None)},
    CrawlSettings: {
        "concurrent_requests_per_host": (1, None), "download_delay": (0, None), "download_timeout": (0.0, None),
        "max_response_bytes": (1, None), "retry_times": (0, None), "retry_backoff_base": (0, None),
        "retry_backoff_max": (0, None), "time_limit": (0.0, None), "progress_interval": (0.0, None),
        "recheck_days": (0, None), "bad_url_retry_days": (0, None), "bad_url_retry_max_days": (0, None),
        "extraction_workers": (0, None), "extraction_timeout": (0.0, None), "max_links_per_page": (1, None),
        "memory_budget_mb": (1, None),
    },
    ExtractionSettings: {"min_words": (0, None), "max_body_bytes": (1, None)},
    ScheduleSettings: {"misfire_grace_seconds": (1, None), "max_concurrent_crawls": (0, None)},
    QueueSettings: {"lock_margin_seconds": (0.0, None)},
    WorkerSettings: {"concurrency": (0, None)},
    SiteSettings: {"max_pages": (1, None), "max_depth": (0, None), "max_age_days": (0, None)},
    DemoSiteSettings: {"port": (1, 65535)},
    SearchSettings: {name: (1, None) for name in ("max_query_chars", "max_query_terms", "max_fuzzy_chars",
                                                  "max_query_depth", "max_body_bytes")}
                    | {"count_limit": (0, None), "holdings_seconds": (0, None)},
    WebSettings: {"session_idle_hours": (0.0, None)},
    AlertSettings: {"webhook_timeout": (0.0, None), "webhook_attempts": (1, None), "smtp_port": (1, 65535),
                    "deliver_every": (0.0, None), "retry_first": (0.0, None), "retry_hours": (0.0, None)},
}


def _check_ranges(obj, prefix: str) -> None:
    for name, (low, high) in RANGES.get(type(obj), {}).items():
        value = getattr(obj, name)
        key = f"{prefix}.{name}"
        if isinstance(low, float) and value <= low:
            raise ConfigError(f"{key}: must be greater than {low:g}, got {value}")
        if low is not None and value < low:
            raise ConfigError(f"{key}: must be at least {low}, got {value}")
        if high is not None and value > high:
            raise ConfigError(f"{key}: must be at most {high}, got {value}")


def _reject_unknown(raw: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"{where}{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")


SECRET_FIELDS = ("username", "password", "api_key", "ca_certs")


def settings_to_dict(settings: Settings) -> dict:
    """The settings as a settings.toml-shaped dict, for a child process. Credentials are left
    out: the child takes them from its environment, like the parent did."""
    from dataclasses import asdict

    raw: dict[str, Any] = {"data_dir": str(settings.data_dir)}
    for section in ("elasticsearch", "local_node", "crawl", "extraction", "schedule", "demo_site", "alerts", "newsroom", "search",
                    "web", "audit", "queue", "worker", "warc"):
        raw[section] = asdict(getattr(settings, section))
    raw["alerts"] = {k: list(v) if isinstance(v, tuple) else v for k, v in raw["alerts"].items()}
    for key in ("smtp_username", "smtp_password"):
        raw["alerts"].pop(key)
    for key in SECRET_FIELDS:
        raw["elasticsearch"].pop(key)
    for key in ("access_key", "secret_key", "session_token"):
        raw["warc"].pop(key)  # from AWS_ACCESS_KEY_ID ... only (credentials_env)
    if urlsplit(raw["queue"]["broker_url"]).password:
        raw["queue"].pop("broker_url")  # a password comes from ARCHIVE_BROKER_URL only (credentials_env)
    raw["sites"] = [{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(s).items()} for s in settings.sites]
    return raw


def credentials_env(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Only the credential variables: what a child needs beyond the settings it is given."""
    names = ("ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD", "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_CA_CERTS",
             "ARCHIVE_SMTP_USERNAME", "ARCHIVE_SMTP_PASSWORD", "ARCHIVE_BROKER_URL",
             "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    found = {k: env[k] for k in names if env.get(k)}
    if env.get("ELASTICSEARCH_URL") and "ELASTICSEARCH_USERNAME" not in found:  # user:password@ in the URL
        es = _credentials_out_of_urls(ElasticsearchSettings(url=env["ELASTICSEARCH_URL"].split(",")[0].strip()))
        if es.username:
            found.update(ELASTICSEARCH_USERNAME=es.username, ELASTICSEARCH_PASSWORD=es.password or "")
    return found
