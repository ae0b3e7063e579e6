# syntax=docker/dockerfile:1
# The innokeda image: a static binary on distroless, running as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY internal/ internal/
COPY webhook/ webhook/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/innokeda ./cmd/innokeda

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/innokeda /innokeda
USER 65532:65532
EXPOSE 9443 8080 8081
ENTRYPOINT ["/innokeda"]
