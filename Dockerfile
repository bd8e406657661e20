# The newsroom archive: the scheduler (nightly crawls), the `archive` CLI and the one-shot
# set-up step (deploy/setup.py) all run from this image. Built by docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The project itself (dependencies are pinned in pyproject.toml; wheels exist for all of them).
COPY pyproject.toml ./
COPY archive ./archive
COPY crawler ./crawler
COPY search ./search
COPY scheduler.py ./
RUN pip install .

# Configuration and the set-up step. docker-compose.yml also mounts ./settings.toml and
# ./kibana read-only over these, so a changed site list needs a restart, not a rebuild.
COPY settings.toml ./
COPY deploy ./deploy
COPY kibana ./kibana

# Never run as root. /data is created here and owned by the archive user so that a fresh
# named volume mounted on it inherits that ownership.
RUN groupadd --system --gid 10001 archive \
    && useradd --system --uid 10001 --gid archive --home-dir /app --shell /usr/sbin/nologin archive \
    && mkdir -p /data \
    && chown archive:archive /data
USER archive

ENV ARCHIVE_CONFIG=/app/settings.toml \
    ARCHIVE_DATA_DIR=/data

VOLUME ["/data"]

CMD ["python", "scheduler.py"]
