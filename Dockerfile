# Timpora Map API image. Production runs against the postgis/postgis service of docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends libexpat1 postgresql-client-15 \
      fonts-noto-cjk fonts-thai-tlwg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 timpora

WORKDIR /app
# The locked versions first (every file checked against its hash; a layer that changes only with
# the lock: the whole closure, installed line by line and checked), then the project itself
# without dependencies.
COPY requirements.lock ./
RUN pip install --no-deps --require-hashes -r requirements.lock && pip check
COPY pyproject.toml README.md ./
COPY geo ./geo
COPY api ./api
COPY maps ./maps
COPY cli ./cli
COPY data ./data
RUN pip install --no-deps .

USER timpora
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["timpora", "serve", "--host", "0.0.0.0", "--port", "8000"]
