# syntax=docker/dockerfile:1
# Build with cgo against Debian's GDAL, run on a slim image with only the GDAL runtime.
FROM golang:1.26-bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgdal-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/compoundwatch ./cmd/compoundwatch

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgdal32 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin compoundwatch
COPY --from=build /out/compoundwatch /usr/local/bin/compoundwatch
USER compoundwatch
ENTRYPOINT ["compoundwatch"]
