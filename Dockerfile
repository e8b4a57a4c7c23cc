# syntax=docker/dockerfile:1
# Two stages: the build stage installs the locked runtime dependencies (requirements/
# runtime.lock: exact versions with hashes, no test tools, no embedded PostgreSQL) and the
# service into a virtualenv; the runtime stage copies only that virtualenv and what the
# service reads at run time (migrations), and runs as a non-root user with the production
# profile (OMS_ENV=production: OMS_DATABASE_URL required, GraphiQL and introspection off).
FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1
WORKDIR /build
COPY requirements/uv.lock requirements/runtime.lock ./requirements/
RUN python -m venv /opt/oms \
    && /opt/oms/bin/pip install --require-hashes -r requirements/uv.lock \
    && /opt/oms/bin/uv pip sync --python /opt/oms/bin/python requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY graphql_schema ./graphql_schema
RUN /opt/oms/bin/uv pip install --python /opt/oms/bin/python --no-deps . \
    && /opt/oms/bin/uv pip uninstall --python /opt/oms/bin/python uv

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/oms/bin:$PATH \
    OMS_ENV=production OMS_HOST=0.0.0.0 OMS_PORT=8000 OMS_DATA_DIR=/srv/.data
WORKDIR /srv
COPY --from=build /opt/oms /opt/oms
COPY alembic.ini ./
COPY migrations ./migrations
RUN useradd --system --no-create-home --uid 10001 oms \
    && mkdir .data && chown oms .data
USER oms
EXPOSE 8000
# ready: the database answers and its migrations are at head
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
CMD ["python", "-m", "app", "serve"]
