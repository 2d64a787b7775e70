# The `tse` binary in a small runtime image: `docker build -t tse:latest .`
# Containers of a generated deployment (`tse deploy compose`) run `tse serve SERVICE --instance NAME`.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Without debug line tables (kept for local builds): 31 MB instead of 139 MB; symbols stay, so
# backtraces still name functions.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
RUN cargo build --release -p tse && cp target/release/tse /usr/local/bin/tse

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tse \
    && mkdir -p /app/data /app/logs \
    && chown -R tse /app
COPY --from=build /usr/local/bin/tse /usr/local/bin/tse
USER tse
WORKDIR /app
ENV BIND_ADDRESS=0.0.0.0 HTTP_PORT=8080 GRPC_PORT=50051 DATA_DIR=/app/data LOG_DIR=/app/logs
VOLUME ["/app/data", "/app/logs"]
EXPOSE 8080 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${HTTP_PORT}/api/v1/health" > /dev/null || exit 1
ENTRYPOINT ["tse"]
CMD ["serve"]
