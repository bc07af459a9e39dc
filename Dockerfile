# Builds every service into one image; the command picks the service.
#   docker build -t e-guarantee-gateway .
#   docker run e-guarantee-gateway ingress --config /etc/gateway/gateway.toml
# cargo-chef builds the dependencies in a layer of their own, so a change to
# our code rebuilds only our crates.
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.73
WORKDIR /src

FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=plan /src/recipe.json recipe.json
# jemalloc's compiled-in settings (.cargo/config.toml) apply when the
# dependencies are built.
COPY .cargo .cargo
# The `dist` profile (Cargo.toml): release with fat LTO and one codegen
# unit, for smaller binaries and less resident code per service. It builds
# about twice as long as `release`: `--build-arg PROFILE=release` for a
# quicker local image (README, "Build profiles").
ARG PROFILE=dist
RUN cargo chef cook --profile "$PROFILE" --recipe-path recipe.json
COPY . .
RUN cargo build --profile "$PROFILE" --locked \
      -p ingress -p egress -p underwriting -p payment -p issuance -p invoice -p claims \
      -p console -p gateway -p sandbox \
 && mkdir /out \
 && cd "target/$PROFILE" \
 && cp ingress egress underwriting payment issuance invoice claims console gateway sandbox /out/

FROM debian:bookworm-slim
# poppler-utils: the sandbox platform reads the PDFs it downloads.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates poppler-utils \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid 10001 --no-create-home gateway
COPY --from=build /out/ /usr/local/bin/
# glibc's malloc keeps an arena per thread that allocates (up to 8 per core),
# and what a burst allocated stays resident in them: with 2 arenas the
# issuance service held 48 MB after 300 lifecycles instead of 65, the
# embedded gateway 49 MB instead of 53-57, at the same throughput
# (`bench lifecycle --env MALLOC_ARENA_MAX=2`). The binaries allocate with
# jemalloc now; only C libraries (SQLite) still allocate there.
ENV MALLOC_ARENA_MAX=2
# Numeric, so Kubernetes can check runAsNonRoot without a passwd lookup.
USER 10001:10001
# The font is compiled into the binaries; nothing else is needed at run time.
ENTRYPOINT []
CMD ["gateway"]
# Each binary answers `healthcheck` (exit 0 when the running service answers
# /healthz on the port its configuration names); compose overrides the
# command per service, and so the check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["gateway", "healthcheck"]
