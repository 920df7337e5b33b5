# Stand-in for the official postgres image when no registry is reachable (container e2e test):
# Debian's PostgreSQL 15, honouring POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB like it.
ARG DEBIAN_IMAGE=clearcap-ci/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENTRYPOINT ["bash", "/usr/local/bin/postgres-entrypoint.sh"]
