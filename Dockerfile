# gatepack as a container: `docker build -t gatepack .` then `docker run --rm gatepack collect ...`.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

WORKDIR /src
# only what the package build needs (see .dockerignore): the wheel carries the catalog and schemas
COPY pyproject.toml README.md ./
COPY slo ./slo
COPY collector ./collector
COPY gatepack ./gatepack
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 gatepack
USER gatepack
WORKDIR /home/gatepack
RUN mkdir -p /home/gatepack/evidence

ENTRYPOINT ["gatepack"]
CMD ["--help"]
