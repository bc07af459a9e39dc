# Builds every service into one image; the command picks the service.
#   docker build -t e-guarantee-gateway .
#   docker run e-guarantee-gateway ingress --config /etc/gateway/gateway.toml
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
      -p ingress -p egress -p underwriting -p payment -p issuance -p invoice -p claims \
      -p console -p gateway -p sandbox \
 && mkdir /out \
 && cp target/release/ingress target/release/egress target/release/underwriting \
       target/release/payment target/release/issuance target/release/invoice \
       target/release/claims target/release/console target/release/gateway \
       target/release/sandbox /out/

FROM debian:bookworm-slim
# poppler-utils: the sandbox platform reads the PDFs it downloads.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates poppler-utils \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 gateway
COPY --from=build /out/ /usr/local/bin/
USER gateway
# The font is compiled into the binaries; nothing else is needed at run time.
ENTRYPOINT []
