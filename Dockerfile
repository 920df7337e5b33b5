# clearcap image: Airflow 3 + the clearcap package, installed from the repository with its locked
# dependencies (requirements.lock) and the `postgres` extra (asyncpg for `airflow db migrate`,
# psycopg2 for the metadata DB and the Celery result backend). One image for every Airflow
# service of docker-compose.yml (api-server, scheduler, dag-processor, triggerer, workers).
#
# Build arguments (docs/deploy.md):
#   BASE_IMAGE  a Python 3.11 image with python/pip in /usr/local/bin (default: the official one)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_NO_INDEX, PIP_FIND_LINKS, PIP_TRUSTED_HOST
#               pip's own settings, for a server without PyPI: e.g. a wheel directory served on
#               the host's loopback, `docker build --network host --build-arg PIP_NO_INDEX=1
#               --build-arg PIP_FIND_LINKS=http://127.0.0.1:8765/ ...`. Unset: PyPI.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/clearcap/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow \
 && mkdir -p /opt/airflow/logs /opt/airflow/auth /data/landing /data/warehouse /data/state \
 && chown -R 50000:0 /opt/airflow /data && chmod -R g+rwX /opt/airflow /data

WORKDIR /opt/clearcap
# the package with its locked dependencies, then the DAGs; the GX suites are package data
# (transforms/expectations links to expectations/), so they are copied before the install
COPY requirements.lock pyproject.toml ./
COPY expectations ./expectations
COPY transforms ./transforms
# pip's settings: no defaults, so an argument not given is not set at all and pip keeps its own
# (declared here, after the apt layer, so another index URL does not rebuild that layer)
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
ARG PIP_TRUSTED_HOST
RUN pip install -c requirements.lock '.[postgres]' \
 && python -c "import airflow, asyncpg, psycopg2, duckdb, great_expectations, transforms" \
 && cd / && python -c "from transforms.quality import load_suite_json as s; s('staging_item_events'); s('mart_national_daily')" \
 && python -c "from transforms.dbt_runner import PROJECT_DIR as p; assert (p / 'models' / 'mart' / '_mart.yml').is_file()"
COPY dags ./dags
COPY deploy ./deploy

USER 50000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["airflow", "version"]
