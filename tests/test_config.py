"""settings.toml is read once into typed objects; a bad value fails fast, naming its key."""

from pathlib import Path

import pytest

from archive.config import ConfigError, load_settings, settings_from_dict, settings_to_dict

PROJECT = Path(__file__).resolve().parent.parent
SITE = {"name": "daily", "start_urls": ["https://daily.example/"], "article_allow": [r"/\d{4}/"]}


def test_the_shipped_settings_file_loads():
    settings = load_settings(PROJECT / "settings.toml", env={})
    demo = settings.site("demo")
    assert demo.allowed_domains == ("127.0.0.1",)
    assert demo.is_article_url("http://127.0.0.1:8701/2025/03/14/harbour-closure")
    assert not demo.is_article_url("http://127.0.0.1:8701/section/world")
    assert settings.data_dir == PROJECT / "var"
    assert settings.elasticsearch.url == "http://127.0.0.1:9200"


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"crawl": {"max_response_bytes": "big"}}, "crawl.max_response_bytes"),
        ({"crawl": {"obey_robot": True}}, "crawl.obey_robot"),
        ({"schedule": {"cron": "every night"}}, "schedule.cron"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "schedule.timezone"),
        ({"sites": [SITE, {**SITE, "name": "other", "article_allow": ["(unclosed"]}]}, 'sites["other"].article_allow[0]'),
        ({"sites": [{**SITE, "start_urls": ["ftp://daily.example/"]}]}, 'sites["daily"].start_urls[0]'),
        ({"sites": [{**SITE, "allowed_domains": ["https://daily.example/"]}]}, 'sites["daily"].allowed_domains[0]'),
        ({"sites": [{**SITE, "allowed_domains": ["daily.example:99999"]}]}, 'sites["daily"].allowed_domains[0]'),
        ({"crawl": {"extraction_timeout": 0}}, "crawl.extraction_timeout"),
        ({"sites": [{k: v for k, v in SITE.items() if k != "name"}]}, "sites[0].name"),
        ({"sites": [SITE, SITE]}, "duplicate site"),
        ({"elasticsearch": {"url": "localhost:9200"}}, "elasticsearch.url"),
        ({"local_node": {"heap": "lots"}}, "local_node.heap"),
    ],
)
def test_bad_settings_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        settings_from_dict(raw, env={})


def test_environment_overrides_what_containers_need():
    env = {
        "ELASTICSEARCH_URL": "https://es.internal:9243",
        "ELASTICSEARCH_USERNAME": "archive",
        "ELASTICSEARCH_PASSWORD": "s3cret",
        "ARCHIVE_DATA_DIR": "/data",
        "ARCHIVE_SCHEDULE_CRON": "30 1 * * *",
    }
    settings = settings_from_dict({"sites": [SITE]}, env=env)
    assert settings.elasticsearch.url == "https://es.internal:9243"
    assert settings.elasticsearch.username == "archive"
    assert "s3cret" not in repr(settings)  # credentials never end up in logs
    assert settings.data_dir == Path("/data")
    assert settings.schedule.cron == "30 1 * * *"


def test_a_site_stays_on_its_own_hosts_by_default():
    settings = settings_from_dict({"sites": [SITE]}, env={})
    assert settings.site("daily").allowed_domains == ("daily.example",)


def test_settings_survive_the_trip_to_a_child_process_without_credentials():
    env = {"ELASTICSEARCH_PASSWORD": "s3cret", "ELASTICSEARCH_USERNAME": "archive"}
    settings = settings_from_dict({"sites": [SITE]}, env=env)
    raw = settings_to_dict(settings)
    assert "s3cret" not in str(raw)
    again = settings_from_dict(raw, env=env)
    assert again == settings


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="ARCHIVE_CONFIG"):
        load_settings(tmp_path / "nope.toml", env={})


def test_a_cluster_is_every_node_from_the_file_or_a_comma_separated_environment():
    listed = settings_from_dict({"elasticsearch": {"url": ["http://es1:9200", "http://es2:9200"]}}, env={})
    assert listed.elasticsearch.hosts == ("http://es1:9200", "http://es2:9200")
    assert listed.elasticsearch.url == "http://es1:9200"
    env = settings_from_dict({}, env={"ELASTICSEARCH_URL": "http://a:9200, http://b:9200,http://c:9200"})
    assert env.elasticsearch.hosts == ("http://a:9200", "http://b:9200", "http://c:9200")
    one = settings_from_dict({}, env={"ELASTICSEARCH_URL": "http://a:9200"})
    assert one.elasticsearch.hosts == ("http://a:9200",)
    # the child process gets every node too
    assert settings_from_dict(settings_to_dict(env), env={}).elasticsearch.hosts == env.elasticsearch.hosts
    with pytest.raises(ConfigError, match="elasticsearch.url"):
        settings_from_dict({}, env={"ELASTICSEARCH_URL": "http://a:9200,es2:9200"})


@pytest.mark.parametrize("value, ok", [("auto", True), (1, True), ("2", True), ("some", False), (-1, False)])
def test_replicas_are_auto_or_a_number(value, ok):
    raw = {"elasticsearch": {"replicas": value}}
    if ok:
        assert settings_from_dict(raw, env={}).elasticsearch.replicas == str(value)
    else:
        with pytest.raises(ConfigError, match="elasticsearch.replicas"):
            settings_from_dict(raw, env={})


def test_extraction_workers_cannot_be_negative():
    with pytest.raises(ConfigError, match="crawl.extraction_workers"):
        settings_from_dict({"crawl": {"extraction_workers": -1}}, env={})


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"crawl": {"download_delay": -1}}, "crawl.download_delay: must be at least 0, got -1"),
        ({"crawl": {"download_timeout": 0}}, "crawl.download_timeout: must be greater than 0"),
        ({"crawl": {"retry_times": -2}}, "crawl.retry_times: must be at least 0"),
        ({"extraction": {"min_words": -5}}, "extraction.min_words: must be at least 0"),
        ({"elasticsearch": {"bulk_size": 0}}, "elasticsearch.bulk_size: must be at least 1"),
        ({"demo_site": {"port": 70000}}, "demo_site.port: must be at most 65535"),
        ({"alerts": {"smtp_port": 0}}, "alerts.smtp_port: must be at least 1"),
        ({"sites": [{**SITE, "max_depth": -1}]}, 'sites["daily"].max_depth: must be at least 0'),
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_key_and_the_range(raw, message):
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(raw, env={})
    assert message in str(caught.value)


def test_a_site_is_named_by_its_name_in_errors_not_its_position():
    mine = {**SITE, "name": "mine", "article_allow": ["(unclosed"]}
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"sites": [SITE, mine]}, env={})
    assert str(caught.value).startswith('sites["mine"].article_allow[0]: bad regular expression')


def test_settings_are_found_beside_the_installed_archive_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no settings.toml here
    settings = load_settings(env={"HOME": str(tmp_path)})
    assert settings.path.resolve() == PROJECT / "settings.toml"
    assert settings.data_dir == PROJECT / "var"  # relative to the file, not the working folder


def test_settings_are_found_in_the_user_config_folder(tmp_path, monkeypatch):
    import archive.config as config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "INSTALLED_CONFIG", tmp_path / "not-installed" / "settings.toml")
    folder = tmp_path / "home" / ".config" / "newsroom-archive"
    folder.mkdir(parents=True)
    (folder / "settings.toml").write_text('[[sites]]\nname = "mine"\nstart_urls = ["https://mine.example/"]\narticle_allow = ["^/a/"]\n')
    assert load_settings(env={"HOME": str(tmp_path / "home")}).site("mine")
    (folder / "settings.toml").unlink()
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"HOME": str(tmp_path / "home")})
    message = str(caught.value)
    assert "looked in settings.toml" in message and str(folder / "settings.toml") in message, message
