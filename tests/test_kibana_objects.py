"""Kibana saved objects (kibana/saved_objects.ndjson): well-formed, self-consistent, and built
only on fields the project's index definitions really have.

Fields are checked against search/definitions/*.json through search.indices.load_definition (the
same copy the code uses), never against a mapping copied here.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from archive.config import load_settings
from crawler.rejections import ALL_REASONS
from search.indices import load_definition

ROOT = Path(__file__).resolve().parent.parent
NDJSON = ROOT / "kibana" / "saved_objects.ndjson"

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
BUILT_IN = {("config", None), ("space", None)}  # types Kibana always has; none is used today
LENS_DATASOURCE_LAYER = "indexpattern-datasource-layer-"


# --- loading ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    result = []
    for number, line in enumerate(NDJSON.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"line {number}: empty line in NDJSON"
        try:
            result.append(json.loads(line))
        except ValueError as exc:
            pytest.fail(f"line {number}: not JSON: {exc}")
    return result


@pytest.fixture(scope="module")
def by_key(objects) -> dict[tuple[str, str], dict]:
    return {(o["type"], o["id"]): o for o in objects}


@pytest.fixture(scope="module")
def settings():
    return load_settings(ROOT / "settings.toml", env={})


def fields_of(definition: dict) -> dict[str, dict]:
    """Every field path of a mapping (multi-fields as parent.sub) -> its mapping."""
    result: dict[str, dict] = {}

    def walk(properties: dict, prefix: str) -> None:
        for name, mapping in properties.items():
            path = f"{prefix}{name}"
            result[path] = mapping
            for sub, sub_mapping in (mapping.get("fields") or {}).items():
                result[f"{path}.{sub}"] = sub_mapping
            if "properties" in mapping:
                walk(mapping["properties"], f"{path}.")

    walk(definition["mappings"]["properties"], "")
    return result


@pytest.fixture(scope="module")
def view_fields(by_key, settings) -> dict[str, dict[str, dict]]:
    """data view id -> its index definition's fields, matched by the data view's title."""
    definitions = {
        settings.elasticsearch.articles_alias: fields_of(load_definition("articles.json")),
        settings.elasticsearch.versions_alias: fields_of(load_definition("articles.json")),
        settings.elasticsearch.runs_index: fields_of(load_definition("crawl-runs.json")),
        settings.elasticsearch.audit_alias: fields_of(load_definition("audit.json")),
    }
    result = {}
    for (type_, id_), obj in by_key.items():
        if type_ == "index-pattern":
            title = obj["attributes"]["title"]
            assert title in definitions, f"data view {id_} on {title!r}, which is none of the archive's aliases"
            result[id_] = definitions[title]
    return result


def field_type(fields: dict[str, dict], name: str, runtime: dict) -> str | None:
    """The field's type: mapped, or a dynamic field under an object mapped with dynamic: true."""
    if name in fields and "type" in fields[name]:
        return fields[name]["type"]
    parent, _, leaf = name.rpartition(".")
    if parent and leaf and parent in fields:
        mapping = fields[parent]
        if mapping.get("type", "object") == "object" and str(mapping.get("dynamic")).lower() == "true":
            # dynamic fields of the archive's counter objects (e.g. rejections.<reason>) are
            # counts, mapped as long by dynamic mapping; a data-view runtime field may declare it
            declared = runtime.get(name, {}).get("type")
            return declared or "long"
    return None


def runtime_fields(view: dict) -> dict:
    return json.loads(view["attributes"].get("runtimeFieldMap") or "{}")


def kql_fields(query: str) -> set[str]:
    return set(re.findall(r"([A-Za-z_][\w.\-]*)\s*:", query))


# --- shape and references ----------------------------------------------------------------


def test_every_line_is_a_saved_object_with_a_stable_readable_id(objects):
    assert len(objects) >= 10
    for obj in objects:
        assert {"type", "id", "attributes", "references"} <= set(obj), obj.get("id")
        assert re.fullmatch(r"newsroom-[a-z0-9-]+", obj["id"]), f"unreadable id {obj['id']!r}"
        assert obj["attributes"].get("title"), f"{obj['id']}: no title"
        assert re.fullmatch(r"\d+\.\d+\.\d+", obj.get("typeMigrationVersion", "")), obj["id"]


def test_ids_and_titles_are_unique(objects):
    keys = [(o["type"], o["id"]) for o in objects]
    assert len(keys) == len(set(keys))
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids)), "an id is used by two types: confusing in URLs and exports"
    titles = [(o["type"], o["attributes"]["title"]) for o in objects]
    assert len(titles) == len(set(titles))


def test_every_reference_resolves(objects, by_key):
    for obj in objects:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['id']}: duplicate reference names"
        for ref in obj["references"]:
            key = (ref["type"], ref["id"])
            assert key in by_key or (ref["type"], None) in BUILT_IN, f"{obj['id']}: dangling reference {ref}"


def test_dashboard_panels_resolve(by_key):
    dashboards = [o for (t, _), o in by_key.items() if t == "dashboard"]
    assert dashboards
    for dashboard in dashboards:
        panels = json.loads(dashboard["attributes"]["panelsJSON"])
        refs = {r["name"]: r for r in dashboard["references"]}
        assert panels, f"{dashboard['id']}: no panels"
        indexes = [p["panelIndex"] for p in panels]
        assert len(indexes) == len(set(indexes))
        used = set()
        for panel in panels:
            assert panel["gridData"]["i"] == panel["panelIndex"]
            assert 0 <= panel["gridData"]["x"] and panel["gridData"]["x"] + panel["gridData"]["w"] <= 48
            name = f"{panel['panelIndex']}:{panel['panelRefName']}"
            assert name in refs, f"{dashboard['id']}: panel {panel['panelIndex']} has no reference {name}"
            ref = refs[name]
            assert ref["type"] == panel["type"]
            assert (ref["type"], ref["id"]) in by_key
            used.add(name)
        assert used == set(refs), f"{dashboard['id']}: references no panel uses: {set(refs) - used}"
        json.loads(dashboard["attributes"]["optionsJSON"])
        json.loads(dashboard["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_saved_searches_point_at_a_data_view(by_key):
    for (type_, id_), obj in by_key.items():
        if type_ != "search":
            continue
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        ref_name = source["indexRefName"]
        refs = [r for r in obj["references"] if r["name"] == ref_name]
        assert len(refs) == 1 and refs[0]["type"] == "index-pattern", id_
        assert ("index-pattern", refs[0]["id"]) in by_key


def test_lens_layers_reference_their_data_view(by_key):
    lenses = [o for (t, _), o in by_key.items() if t == "lens"]
    assert lenses
    for obj in lenses:
        layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        refs = {r["name"]: r for r in obj["references"]}
        for layer_id, layer in layers.items():
            ref = refs.get(f"{LENS_DATASOURCE_LAYER}{layer_id}")
            assert ref and ref["type"] == "index-pattern", f"{obj['id']}: layer {layer_id} has no data view"
            assert ("index-pattern", ref["id"]) in by_key
            assert set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                order_by = column.get("params", {}).get("orderBy", {})
                if order_by.get("type") == "column":
                    assert order_by["columnId"] in layer["columns"]
        visualization = obj["attributes"]["state"]["visualization"]
        column_ids = {c for layer in layers.values() for c in layer["columns"]}
        for vis_layer in visualization["layers"]:
            assert vis_layer["layerId"] in layers
            used = list(vis_layer.get("accessors", [])) + list(vis_layer.get("metrics", []))
            used += [vis_layer[k] for k in ("xAccessor", "splitAccessor") if vis_layer.get(k)]
            used += list(vis_layer.get("primaryGroups", []))
            assert used and set(used) <= column_ids, f"{obj['id']}: unknown columns {set(used) - column_ids}"


# --- fields -------------------------------------------------------------------------------


def _view_of(obj: dict, by_key) -> dict:
    for ref in obj["references"]:
        if ref["type"] == "index-pattern":
            return by_key[("index-pattern", ref["id"])]
    raise AssertionError(f"{obj['id']}: no data view")


OPERATION_TYPES = {
    "terms": {"keyword"},
    "date_histogram": {"date", "date_nanos"},
    "sum": NUMERIC,
    "average": NUMERIC,
    "median": NUMERIC,
    "min": NUMERIC | {"date"},
    "max": NUMERIC | {"date"},
    "unique_count": {"keyword"} | NUMERIC | {"date", "boolean"},
}


def test_data_view_time_fields_are_date_fields(by_key, view_fields, settings):
    titles = {o["attributes"]["title"]: o for (t, _), o in by_key.items() if t == "index-pattern"}
    # Every article has display_date (published, else first seen); `published` would hide undated ones.
    assert titles[settings.elasticsearch.articles_alias]["attributes"]["timeFieldName"] == "display_date"
    assert titles[settings.elasticsearch.runs_index]["attributes"]["timeFieldName"] == "started"
    for view_id, fields in view_fields.items():
        time_field = by_key[("index-pattern", view_id)]["attributes"]["timeFieldName"]
        assert field_type(fields, time_field, {}) == "date", f"{view_id}: {time_field} is not a date"


def test_runtime_fields_only_back_dynamic_numeric_fields(by_key, view_fields):
    for view_id, fields in view_fields.items():
        view = by_key[("index-pattern", view_id)]
        for name, spec in runtime_fields(view).items():
            assert spec["type"] == "long"
            assert field_type(fields, name, {}) == "long", f"{view_id}: runtime field {name} shadows no dynamic count"
            # no script: Elasticsearch reads the same-named field from _source (no Painless needed)
            assert "script" not in spec, f"{view_id}: {name} should read _source, not run a script"


def test_lens_columns_use_existing_fields_of_a_suitable_type(by_key, view_fields):
    checked = 0
    for (type_, id_), obj in by_key.items():
        if type_ != "lens":
            continue
        view = _view_of(obj, by_key)
        fields = view_fields[view["id"]]
        runtime = runtime_fields(view)
        state = obj["attributes"]["state"]
        for layer in state["datasourceStates"]["formBased"]["layers"].values():
            for column_id, column in layer["columns"].items():
                operation = column["operationType"]
                if operation == "count":
                    assert column["sourceField"] == "___records___"
                    continue
                assert operation in OPERATION_TYPES, f"{id_}: unexpected operation {operation}"
                kind = field_type(fields, column["sourceField"], runtime)
                assert kind, f"{id_}.{column_id}: {column['sourceField']} is not in the index definition"
                assert kind in OPERATION_TYPES[operation], f"{id_}.{column_id}: {operation} on {kind} field {column['sourceField']}"
                if column["sourceField"] not in fields:  # a dynamic field: must be backed by a runtime field
                    assert column["sourceField"] in runtime, f"{id_}: {column['sourceField']} has no runtime field"
                checked += 1
        for name in kql_fields(state["query"]["query"]):
            assert field_type(fields, name, runtime), f"{id_}: query on unknown field {name}"
    assert checked >= 15


def test_saved_search_columns_sort_and_query_use_existing_fields(by_key, view_fields):
    for (type_, id_), obj in by_key.items():
        if type_ != "search":
            continue
        view = _view_of(obj, by_key)
        fields = view_fields[view["id"]]
        runtime = runtime_fields(view)
        attributes = obj["attributes"]
        for column in attributes["columns"]:
            assert field_type(fields, column, runtime), f"{id_}: column {column} is not in the index definition"
        for field, direction in attributes["sort"]:
            assert direction in ("asc", "desc")
            kind = field_type(fields, field, runtime)
            assert kind and (kind in NUMERIC or kind in ("date", "keyword")), f"{id_}: cannot sort on {field} ({kind})"
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for name in kql_fields(source["query"]["query"]):
            assert field_type(fields, name, runtime) == "keyword", f"{id_}: query on {name}"


# --- what the newsroom asked for ------------------------------------------------------------


def _titled(by_key, type_: str, title: str) -> dict:
    matches = [o for (t, _), o in by_key.items() if t == type_ and o["attributes"]["title"] == title]
    assert len(matches) == 1, f"no single {type_} titled {title!r}"
    return matches[0]


def _lens_fields(obj) -> list[tuple[str, str]]:
    layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    return [(c["operationType"], c["sourceField"]) for layer in layers.values() for c in layer["columns"].values()]


def _panel_targets(by_key, dashboard) -> list[dict]:
    return [by_key[(r["type"], r["id"])] for r in dashboard["references"]]


def test_news_archive_dashboard(by_key):
    search = _titled(by_key, "search", "Archived articles")
    assert search["attributes"]["columns"] == ["title", "site", "authors", "published", "first_seen", "url"]
    dashboard = _titled(by_key, "dashboard", "News archive")
    panels = _panel_targets(by_key, dashboard)
    assert search in panels
    charted = {f for p in panels if p["type"] == "lens" for f in _lens_fields(p)}
    for needed in [("date_histogram", "display_date"), ("terms", "site"), ("terms", "authors.raw"),
                   ("terms", "tags"), ("terms", "section"), ("terms", "language")]:
        assert needed in charted, f"News archive lacks {needed}"


def test_crawl_health_dashboard(by_key):
    dashboard = _titled(by_key, "dashboard", "Crawl health")
    panels = _panel_targets(by_key, dashboard)
    charted = {f for p in panels if p["type"] == "lens" for f in _lens_fields(p)}
    for needed in [("date_histogram", "started"), ("terms", "status"), ("sum", "articles_new"), ("sum", "articles_updated")]:
        assert needed in charted, f"Crawl health lacks {needed}"
    reasons = {f.split(".", 1)[1] for op, f in charted if op == "sum" and f.startswith("rejections.")}
    assert {"not-article", "robots", "too-short", "http-error", "offsite", "duplicate"} <= reasons
    assert set(ALL_REASONS) <= reasons, f"reasons the crawler counts but the dashboard misses: {set(ALL_REASONS) - reasons}"
    failed = _titled(by_key, "search", "Failed crawl runs")
    assert failed in panels
    query = json.loads(failed["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]
    assert query["language"] == "kuery"
    assert kql_fields(query["query"]) == {"status"}
    assert '"failed"' in query["query"] and '"timed-out"' in query["query"]
    assert '"no-articles"' in query["query"]  # a crawl that archived nothing is a failure to look at


def test_ndjson_is_up_to_date_with_its_source():
    spec = importlib.util.spec_from_file_location("build_saved_objects", ROOT / "kibana" / "build_saved_objects.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render(module.build()) == NDJSON.read_text(encoding="utf-8"), (
        "kibana/saved_objects.ndjson differs from kibana/build_saved_objects.py: run the script"
    )


def _years_back(relative: str) -> int:
    match = re.fullmatch(r"now-(\d+)y", relative)
    assert match, f"expected a range of years back, got {relative!r}"
    return int(match.group(1))


def test_default_time_ranges_show_the_whole_archive(by_key):
    """Opening the dashboard or the saved search shows articles of past years, not the last weeks."""
    from archive.demo_site import DemoSite

    oldest_demo_year = min(a.published.year for a in DemoSite().articles)
    from datetime import date

    dashboard = _titled(by_key, "dashboard", "News archive")["attributes"]
    assert dashboard["timeRestore"] is True
    assert date.today().year - _years_back(dashboard["timeFrom"]) <= min(oldest_demo_year, 2000)
    search = _titled(by_key, "search", "Archived articles")["attributes"]
    assert search["timeRestore"] is True
    assert _years_back(search["timeRange"]["from"]) == _years_back(dashboard["timeFrom"])
    assert search["sort"] == [["display_date", "desc"]]


def test_every_stored_article_has_the_time_field(archive_settings, es_client):
    """The data view's time field is set on dated and undated articles alike."""
    from search.indices import ensure_all
    from search.writer import ArticleWriter

    es = archive_settings.elasticsearch
    ensure_all(es_client, es)
    base = {"site": "demo", "title": "t", "body": "b", "content_hash": "h", "crawled_at": "2026-11-30T10:00:00+00:00"}
    ArticleWriter(es_client, es).write({
        "dated": {**base, "url": "http://x/1", "published": "2024-03-01T08:00:00+00:00"},
        "undated": {**base, "url": "http://x/2", "content_hash": "h2"},
    })
    es_client.indices.refresh(index=es.articles_alias)
    dated = es_client.get(index=es.articles_alias, id="dated")["_source"]
    undated = es_client.get(index=es.articles_alias, id="undated")["_source"]
    assert dated["display_date"] == "2024-03-01T08:00:00+00:00"
    assert undated["display_date"] == undated["first_seen"] == "2026-11-30T10:00:00+00:00"
    # Kibana filters on the time field: both articles are found by a range on it.
    found = es_client.count(index=es.articles_alias, query={"range": {"display_date": {"gte": "now-50y"}}})["count"]
    assert found == 2


def test_a_rejection_reason_is_mapped_as_the_runtime_field_says(archive_settings, es_client, by_key):
    """Kibana drops a data-view runtime field once the index maps the field: the mapped field must
    then be the same long, or the Rejections panel would change type under the user."""
    from search.indices import RUNS_DEFINITION, ensure_index

    es = archive_settings.elasticsearch
    ensure_index(es_client, es.runs_index, RUNS_DEFINITION)
    es_client.index(index=es.runs_index, id="r1", document={"site": "demo", "rejections": {"too-short": 3}}, refresh=True)
    mapping = es_client.indices.get_mapping(index=es.runs_index)
    (properties,) = [m["mappings"]["properties"] for m in mapping.body.values()]
    mapped = properties["rejections"]["properties"]["too-short"]["type"]
    runtime = runtime_fields(by_key[("index-pattern", "newsroom-crawl-runs")])
    assert mapped == runtime["rejections.too-short"]["type"] == "long"


def test_index_init_gives_an_older_archive_the_time_field(archive_settings, es_client):
    """An archive made before display_date existed: `archive index init` maps the field and sets
    it on the stored articles, so Kibana shows them; a second run changes nothing."""
    from click.testing import CliRunner

    from archive.cli import AppContext, cli
    from search.indices import ARTICLES_DEFINITION, ensure_all, versioned_name

    es = archive_settings.elasticsearch
    old = load_definition(ARTICLES_DEFINITION)
    del old["mappings"]["properties"]["display_date"]
    es_client.indices.create(index=versioned_name(es.articles_alias), settings=old["settings"], mappings=old["mappings"],
                             aliases={es.articles_alias: {"is_write_index": True}})
    ensure_all(es_client, es)
    es_client.index(index=es.articles_alias, id="dated", document={"title": "a", "published": "2019-05-01T00:00:00+00:00", "first_seen": "2026-01-01T00:00:00+00:00"})
    es_client.index(index=es.articles_alias, id="undated", document={"title": "b", "first_seen": "2026-01-02T00:00:00+00:00"}, refresh=True)

    runner = CliRunner()
    first = runner.invoke(cli, ["index", "init"], obj=AppContext(None, archive_settings))
    assert first.exit_code == 0, first.output
    assert "display_date set on 2 articles" in first.output
    mapping = es_client.indices.get_mapping(index=es.articles_alias).body
    assert [m["mappings"]["properties"]["display_date"]["type"] for m in mapping.values()] == ["date"]
    assert es_client.get(index=es.articles_alias, id="dated")["_source"]["display_date"] == "2019-05-01T00:00:00+00:00"
    assert es_client.get(index=es.articles_alias, id="undated")["_source"]["display_date"] == "2026-01-02T00:00:00+00:00"
    assert es_client.count(index=es.articles_alias, query={"range": {"display_date": {"gte": "2000-01-01"}}})["count"] == 2

    second = runner.invoke(cli, ["index", "init"], obj=AppContext(None, archive_settings))
    assert second.exit_code == 0 and "upgraded" not in second.output


def test_the_audit_trail_has_a_view_of_its_own(by_key, settings):
    view = by_key[("index-pattern", "newsroom-audit")]
    assert view["attributes"]["title"] == settings.elasticsearch.audit_alias == "archive-audit"
    assert view["attributes"]["timeFieldName"] == "@timestamp"
    audit = by_key[("search", "newsroom-archive-audit")]
    assert {"event", "user", "query", "rows"} <= set(audit["attributes"]["columns"])
    failed = by_key[("search", "newsroom-failed-sign-ins")]
    assert "failure" in json.loads(failed["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
