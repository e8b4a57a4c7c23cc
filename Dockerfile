FROM python:3.12-slim
WORKDIR /srv
# OMS_ENV=production: OMS_DATABASE_URL required, GraphiQL and introspection off, JSON logs,
# no demo data (README "Running in production")
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMS_ENV=production OMS_HOST=0.0.0.0
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY graphql_schema ./graphql_schema
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . \
    && useradd --system --no-create-home --uid 10001 oms \
    && mkdir .data && chown oms .data
USER oms
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["python", "-m", "app", "serve"]
