#!/usr/bin/env python3
"""Writes kibana/saved_objects.ndjson: the archive's data views, saved searches, Lens
visualizations and dashboards, in Kibana's saved-objects import format (one JSON object a line).

The NDJSON file is what gets imported (deploy/setup.py) and what the tests check; this script is
its readable source. Edit here, run `python kibana/build_saved_objects.py`, commit both.
(tests/test_kibana_objects.py fails when the two disagree.)

Conventions:
  - stable, readable ids prefixed `newsroom-`: re-importing with overwrite=true replaces them;
  - Lens state in the Kibana 8.9+ "formBased" shape; import migrates it to the running version
    (typeMigrationVersion says which shape each object is in);
  - every field used exists in search/definitions/*.json; `rejections.<reason>` are dynamic long
    fields, backed here by script-less data-view runtime fields (values read from _source) so
    the charts work before a reason first occurs (a Lens column on a field the data view does
    not know yet would break the panel);
  - the articles data view's time field is `display_date` (published, else first seen), which
    every article has: an undated article still shows in Discover and the dashboards; the
    default time ranges reach back ARCHIVE_RANGE, so the whole archive shows, not the last weeks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "saved_objects.ndjson"

CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "search": "8.0.0",
    "lens": "8.9.0",
    "dashboard": "8.9.0",
}
PANEL_VERSION = "8.9.0"

ARTICLES_VIEW = "newsroom-articles"
RUNS_VIEW = "newsroom-crawl-runs"
AUDIT_VIEW = "newsroom-audit"

# The project's own lists (one source of truth): every named rejection reason, a dynamic long
# field `rejections.<reason>` of each crawl-runs document, and the run statuses that are not ok.
sys.path.insert(0, str(HERE.parent))
from crawler.rejections import ALL_REASONS as REJECTION_REASONS  # noqa: E402
from crawler.runner import FAILED, INCOMPLETE, INTERRUPTED, NO_ARTICLES, OK_SPOOLED, TIMED_OUT  # noqa: E402

NOT_OK_STATUSES = (FAILED, NO_ARTICLES, TIMED_OUT, INTERRUPTED, INCOMPLETE, OK_SPOOLED)

# Every article has it (search/writer.py: published, else first seen).
ARTICLES_TIME_FIELD = "display_date"
# News archives go back decades; a range of weeks would hide most of it.
ARCHIVE_RANGE = "now-50y"

LAYER = "layer1"


def dumps(value) -> str:
    """Compact, key-sorted JSON: a stable file, readable diffs line by line."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def saved_object(type_: str, id_: str, attributes: dict, references: list[dict] | None = None) -> dict:
    return {
        "type": type_,
        "id": id_,
        "attributes": attributes,
        "references": references or [],
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[type_],
    }


# --- data views --------------------------------------------------------------------------


def rejection_runtime_field(reason: str) -> dict:
    # A runtime field without a script reads the field of the same name from _source (core
    # Elasticsearch, no Painless needed), so `rejections.<reason>` exists for Lens before any run
    # had that reason. Once dynamic mapping has mapped the field (the first run with that
    # reason), Kibana drops the runtime field and uses the mapped long field instead: same name,
    # same values, so the panels keep working either way.
    return {"type": "long"}


def data_view(id_: str, title: str, name: str, time_field: str, runtime: dict | None = None) -> dict:
    return saved_object(
        "index-pattern",
        id_,
        {
            "title": title,
            "name": name,
            "timeFieldName": time_field,
            "runtimeFieldMap": dumps(runtime or {}),
            "fieldAttrs": "{}",
            "fieldFormatMap": "{}",
            "sourceFilters": "[]",
        },
    )


# --- saved searches ----------------------------------------------------------------------


def saved_search(id_: str, title: str, view: str, columns: list[str], sort: list, query: str = "", description: str = "",
                 time_from: str | None = None) -> dict:
    source = {
        "query": {"query": query, "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return saved_object(
        "search",
        id_,
        {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": dumps(source)},
            # With a time range of its own, opening it in Discover shows what it is about.
            **({"timeRestore": True, "timeRange": {"from": time_from, "to": "now"}} if time_from else {"timeRestore": False}),
        },
        [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": view}],
    )


# --- Lens columns ------------------------------------------------------------------------


def count(label: str) -> dict:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "isBucketed": False,
        "scale": "ratio",
        "sourceField": "___records___",
        "params": {"emptyAsNull": True},
    }


def total(field: str, label: str) -> dict:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "sum",
        "isBucketed": False,
        "scale": "ratio",
        "sourceField": field,
        "params": {"emptyAsNull": False},
    }


def per_interval(field: str, interval: str = "auto") -> dict:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "isBucketed": True,
        "scale": "interval",
        "sourceField": field,
        "params": {"interval": interval, "includeEmptyRows": True, "dropPartials": False},
    }


def top_values(field: str, size: int, order_by: str, label: str | None = None, other: bool = True) -> dict:
    column = {
        "label": label or f"Top {size} values of {field}",
        "dataType": "string",
        "operationType": "terms",
        "isBucketed": True,
        "scale": "ordinal",
        "sourceField": field,
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": other,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
            "include": [],
            "exclude": [],
            "includeIsRegex": False,
            "excludeIsRegex": False,
        },
    }
    if label:
        column["customLabel"] = True
    return column


def lens(id_: str, title: str, view: str, columns: dict, visualization_type: str, visualization: dict, description: str = "") -> dict:
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {
                    LAYER: {
                        "columns": columns,
                        "columnOrder": list(columns),
                        "incompleteColumns": {},
                        "sampling": 1,
                    }
                }
            }
        },
        "visualization": visualization,
        "query": {"query": "", "language": "kuery"},
        "filters": [],
        "adHocDataViews": {},
        "internalReferences": [],
    }
    return saved_object(
        "lens",
        id_,
        {"title": title, "description": description, "visualizationType": visualization_type, "state": state},
        [{"type": "index-pattern", "id": view, "name": f"indexpattern-datasource-layer-{LAYER}"}],
    )


def xy(series_type: str, x: str, accessors: list[str], split: str | None = None, legend: bool = True) -> dict:
    layer = {
        "layerId": LAYER,
        "layerType": "data",
        "seriesType": series_type,
        "xAccessor": x,
        "accessors": accessors,
        "position": "top",
        "showGridlines": False,
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": legend, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series_type,
        "axisTitlesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "layers": [layer],
    }


def top_bar(id_: str, title: str, view: str, field: str, size: int, what: str, description: str) -> dict:
    columns = {
        "col-terms": top_values(field, size, "col-count", label=what, other=False),
        "col-count": count("Articles"),
    }
    return lens(id_, title, view, columns, "lnsXY", xy("bar_horizontal", "col-terms", ["col-count"], legend=False), description)


def donut(id_: str, title: str, view: str, field: str, size: int, what: str, description: str) -> dict:
    columns = {
        "col-terms": top_values(field, size, "col-count", label=what),
        "col-count": count("Articles"),
    }
    visualization = {
        "shape": "donut",
        "layers": [
            {
                "layerId": LAYER,
                "layerType": "data",
                "primaryGroups": ["col-terms"],
                "metrics": ["col-count"],
                "numberDisplay": "percent",
                "categoryDisplay": "default",
                "legendDisplay": "default",
                "nestedLegend": False,
            }
        ],
    }
    return lens(id_, title, view, columns, "lnsPie", visualization, description)


# --- dashboards --------------------------------------------------------------------------


def dashboard(id_: str, title: str, description: str, panels: list[tuple[str, str, tuple[int, int, int, int]]], time_from: str) -> dict:
    """panels: (saved object type, id, (x, y, w, h)) on Kibana's 48-column grid."""
    panels_json, references = [], []
    for number, (type_, object_id, (x, y, w, h)) in enumerate(panels, start=1):
        index = f"p{number}"
        panels_json.append(
            {
                "version": PANEL_VERSION,
                "type": type_,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                "panelIndex": index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{index}",
            }
        )
        references.append({"name": f"{index}:panel_{index}", "type": type_, "id": object_id})
    options = {"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False, "hidePanelTitles": False}
    return saved_object(
        "dashboard",
        id_,
        {
            "title": title,
            "description": description,
            "panelsJSON": dumps(panels_json),
            "optionsJSON": dumps(options),
            "timeRestore": True,
            "timeFrom": time_from,
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
            "version": 1,
        },
        references,
    )


# --- the objects -------------------------------------------------------------------------


def build() -> list[dict]:
    objects: list[dict] = []

    # News archive ----------------------------------------------------------------------
    objects.append(data_view(ARTICLES_VIEW, "articles", "Archive: articles", ARTICLES_TIME_FIELD))
    objects.append(
        saved_search(
            "newsroom-archived-articles",
            "Archived articles",
            ARTICLES_VIEW,
            ["title", "site", "authors", "published", "first_seen", "url"],
            [[ARTICLES_TIME_FIELD, "desc"]],
            description="Every archived article, newest first (by publication date, else by when it was first archived).",
            time_from=ARCHIVE_RANGE,
        )
    )
    objects.append(
        lens(
            "newsroom-articles-per-day-by-site",
            "Articles over time by site",
            ARTICLES_VIEW,
            {
                "col-site": top_values("site", 10, "col-count", label="Site"),
                "col-date": per_interval(ARTICLES_TIME_FIELD),
                "col-count": count("Articles"),
            },
            "lnsXY",
            xy("bar_stacked", "col-date", ["col-count"], split="col-site"),
            "Articles by publication date (else first archived), stacked by site.",
        )
    )
    objects.append(top_bar("newsroom-top-authors", "Top authors", ARTICLES_VIEW, "authors.raw", 20, "Author", "The 20 authors with the most articles."))
    objects.append(top_bar("newsroom-top-tags", "Top tags", ARTICLES_VIEW, "tags", 20, "Tag", "The 20 most used tags."))
    objects.append(top_bar("newsroom-top-sections", "Top sections", ARTICLES_VIEW, "section", 15, "Section", "The 15 sections with the most articles."))
    objects.append(donut("newsroom-languages", "Languages", ARTICLES_VIEW, "language", 10, "Language", "Articles by detected language."))
    objects.append(
        dashboard(
            "newsroom-news-archive",
            "News archive",
            "What the archive holds: articles per day and site, authors, tags, sections, languages.",
            [
                ("lens", "newsroom-articles-per-day-by-site", (0, 0, 48, 15)),
                ("lens", "newsroom-top-authors", (0, 15, 12, 16)),
                ("lens", "newsroom-top-tags", (12, 15, 12, 16)),
                ("lens", "newsroom-top-sections", (24, 15, 12, 16)),
                ("lens", "newsroom-languages", (36, 15, 12, 16)),
                ("search", "newsroom-archived-articles", (0, 31, 48, 20)),
            ],
            ARCHIVE_RANGE,
        )
    )

    # Crawl health ----------------------------------------------------------------------
    runtime = {f"rejections.{reason}": rejection_runtime_field(reason) for reason in REJECTION_REASONS}
    objects.append(data_view(RUNS_VIEW, "crawl-runs", "Archive: crawl runs", "started", runtime))
    run_columns = ["site", "status", "trigger", "duration_seconds", "pages_fetched", "articles_new", "articles_updated", "rejected_total", "error_count"]
    objects.append(
        saved_search(
            "newsroom-all-crawl-runs",
            "Crawl runs",
            RUNS_VIEW,
            run_columns,
            [["started", "desc"]],
            description="One row per crawl run, newest first.",
        )
    )
    objects.append(
        saved_search(
            "newsroom-failed-crawl-runs",
            "Failed crawl runs",
            RUNS_VIEW,
            ["site", "status", "trigger", "duration_seconds", "error_count", "errors", "exit_code"],
            [["started", "desc"]],
            query="status : (" + " or ".join(f'"{status}"' for status in NOT_OK_STATUSES) + ")",
            description="Runs that failed, archived no article (no-articles: see errors), hit the time limit, were "
            "interrupted, left listings for the next run (incomplete) or spooled articles (ok-spooled: run "
            "`archive flush`); the next run retries them.",
        )
    )
    objects.append(
        lens(
            "newsroom-crawl-runs-by-status",
            "Crawl runs over time by status",
            RUNS_VIEW,
            {
                "col-status": top_values("status", 10, "col-count", label="Status"),
                "col-date": per_interval("started"),
                "col-count": count("Runs"),
            },
            "lnsXY",
            xy("bar_stacked", "col-date", ["col-count"], split="col-status"),
            "Crawl runs per interval, stacked by outcome.",
        )
    )
    objects.append(
        lens(
            "newsroom-articles-per-run",
            "Articles archived per run",
            RUNS_VIEW,
            {
                "col-date": per_interval("started"),
                "col-new": total("articles_new", "New articles"),
                "col-updated": total("articles_updated", "Updated articles"),
            },
            "lnsXY",
            xy("bar_stacked", "col-date", ["col-new", "col-updated"]),
            "New and updated articles archived by the runs started in each interval "
            "(nightly runs: one bar per night; the Crawl runs table has one row per run).",
        )
    )
    rejection_columns = {"col-date": per_interval("started")}
    for reason in REJECTION_REASONS:
        rejection_columns[f"col-{reason}"] = total(f"rejections.{reason}", reason)
    objects.append(
        lens(
            "newsroom-rejections-by-reason",
            "Rejections by reason",
            RUNS_VIEW,
            rejection_columns,
            "lnsXY",
            xy("bar_stacked", "col-date", [c for c in rejection_columns if c != "col-date"]),
            "Pages the crawler rejected, by named reason (rejections.<reason> of each run).",
        )
    )
    objects.append(
        dashboard(
            "newsroom-crawl-health",
            "Crawl health",
            "Are the nightly crawls working: runs by status, articles archived, rejections, failures.",
            [
                ("lens", "newsroom-crawl-runs-by-status", (0, 0, 24, 15)),
                ("lens", "newsroom-articles-per-run", (24, 0, 24, 15)),
                ("lens", "newsroom-rejections-by-reason", (0, 15, 48, 15)),
                ("search", "newsroom-failed-crawl-runs", (0, 30, 48, 15)),
                ("search", "newsroom-all-crawl-runs", (0, 45, 48, 18)),
            ],
            "now-30d",
        )
    )

    # The audit trail (search/audit.py): readable by the archive_admin role only ---------------
    objects.append(data_view(AUDIT_VIEW, "archive-audit", "Archive: audit trail", "@timestamp"))
    objects.append(
        saved_search(
            "newsroom-archive-audit",
            "Archive audit",
            AUDIT_VIEW,
            ["event", "outcome", "user", "address", "query", "format", "rows", "saved_search", "owner", "reason"],
            [["@timestamp", "desc"]],
            description="Who signed in (and who failed to), who exported what, who changed which saved search; "
                        "searches only with [audit] searches = true.",
            time_from="now-90d",
        )
    )
    objects.append(
        saved_search(
            "newsroom-failed-sign-ins",
            "Failed sign-ins",
            AUDIT_VIEW,
            ["user", "address", "reason"],
            [["@timestamp", "desc"]],
            query='event:"sign-in" and outcome:"failure"',
            description="Sign-ins Elasticsearch refused, by user name and address.",
            time_from="now-30d",
        )
    )
    return objects


def render(objects: list[dict]) -> str:
    return "".join(dumps(o) + "\n" for o in objects)


def main() -> int:
    text = render(build())
    if "--check" in sys.argv[1:]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python {Path(__file__).relative_to(HERE.parent)}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} saved objects to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
