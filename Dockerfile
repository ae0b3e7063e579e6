# syntax=docker/dockerfile:1
# The innokeda image: a static binary on distroless, running as non-root.
#
# Multi-arch: the build stage runs on the builder's own platform and cross-compiles for the
# target one (no emulation), e.g. docker buildx build --platform linux/amd64,linux/arm64 .
# (make docker-buildx). Plain docker build builds for the engine's platform.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# Only the packages the binary is built from (see .dockerignore).
COPY cmd/ cmd/
COPY internal/ internal/
COPY webhook/ webhook/
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 \
    go build -trimpath -ldflags="-s -w" -o /out/innokeda ./cmd/innokeda

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="innokeda" \
      org.opencontainers.image.description="Admission webhooks and a controller for KEDA ScaledObjects of MySQL InnoDBClusters" \
      org.opencontainers.image.source="https://github.com/innokeda/innokeda" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY LICENSE /licenses/LICENSE
COPY --from=build /out/innokeda /innokeda
USER 65532:65532
# Webhooks (TLS), /metrics (HTTPS with --metrics-secure), /healthz and /readyz.
EXPOSE 9443 8443 8081
ENTRYPOINT ["/innokeda"]
