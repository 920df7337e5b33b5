# clearcap image: Airflow 3 + the clearcap package, installed from the repository with its locked
# dependencies (requirements.lock) and the `postgres` extra (asyncpg for `airflow db migrate`,
# psycopg2 for the metadata DB and the Celery result backend). One image for every Airflow
# service of docker-compose.yml (api-server, scheduler, dag-processor, triggerer, workers).
FROM python:3.11-slim-bookworm

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
 && mkdir -p /opt/airflow/logs /opt/airflow/auth /data/landing /data/warehouse \
 && chown -R 50000:0 /opt/airflow /data && chmod -R g+rwX /opt/airflow /data

WORKDIR /opt/clearcap
# dependencies first (cached layer), then the code
COPY requirements.lock pyproject.toml ./
COPY transforms ./transforms
RUN pip install -c requirements.lock '.[postgres]' \
 && python -c "import airflow, asyncpg, psycopg2, duckdb, great_expectations, transforms"
COPY dags ./dags
COPY expectations ./expectations
COPY deploy ./deploy

USER 50000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["airflow", "version"]
