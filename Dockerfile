# The consumer service image: `docker compose up` runs it against Kafka and MinIO.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY upload_engine ./upload_engine
COPY kafka_config ./kafka_config
COPY consumer ./consumer
COPY producer_lib ./producer_lib
COPY upload_stream_cli ./upload_stream_cli
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# libmagic: the content gate's type check (python-magic loads it).
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 \
    && rm -rf /var/lib/apt/lists/*
# No root at run time: the consumer reads staged blobs and must not be able to write them.
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin uploader
COPY --from=build /install /usr/local
USER uploader
ENV UPLOAD_STREAM_METRICS_PORT=9464 \
    UPLOAD_STREAM_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=2)"]
ENTRYPOINT ["upload-stream"]
CMD ["consume"]
