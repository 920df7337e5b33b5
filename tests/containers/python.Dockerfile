# Stand-in for python:3.11-slim-bookworm when no image registry is reachable (container e2e test):
# Debian's python3.11 in a venv at /usr/local, so python, pip and console scripts sit in
# /usr/local/bin as in the official image.
ARG DEBIAN_IMAGE=clearcap-ci/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3.11 -m venv /usr/local \
 && /usr/local/bin/python -m pip --version
CMD ["python3"]
