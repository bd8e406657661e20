"""A local spool for articles that could not be written because Elasticsearch was down.

Append-only NDJSON files in the data folder; replayed at the next crawl start and by
`archive flush`. A file is removed only after every document in it was written.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from search.writer import ArticleWriter, WriteResult

logger = logging.getLogger(__name__)


class Spool:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def append(self, documents: dict[str, dict], name: str = "articles") -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}-{os.getpid()}.ndjson"
        with path.open("a", encoding="utf-8") as out:
            for doc_id, document in documents.items():
                out.write(json.dumps({"id": doc_id, "document": document}, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())  # spooled means on disk, even if the crawl is killed next
        return len(documents)

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.ndjson")) if self.directory.exists() else []

    def pending(self) -> int:
        return sum(1 for f in self.files() for line in f.open(encoding="utf-8") if line.strip())

    def replay(self, writer: ArticleWriter, batch_size: int = 200) -> WriteResult:
        """Write every spooled document; raises (keeping the files) if Elasticsearch is still down."""
        total = WriteResult()
        for path in self.files():
            batch: dict[str, dict] = {}
            result = WriteResult()
            for line in path.open(encoding="utf-8"):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # A line cut short by a kill: the article is re-fetched by a later crawl.
                    logger.warning("skipping a torn line in %s", path)
                    continue
                batch[record["id"]] = record["document"]
                if len(batch) >= batch_size:
                    result.add(writer.write(batch))
                    batch = {}
            result.add(writer.write(batch))
            if result.failed == 0:
                path.unlink()
            total.add(result)
            logger.info("replayed %s: %d new, %d updated, %d unchanged, %d failed",
                        path.name, result.new, result.updated, result.unchanged, result.failed)
        return total
