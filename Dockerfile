# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# The rs module is required from the tree (go.mod's replace).
COPY rs/go.mod rs/go.sum ./rs/
RUN go mod download
COPY . .
# docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD)
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/latch ./cmd/latch

# Static binary on a distroless base: no shell, no package manager, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latch /usr/local/bin/latch
USER nonroot:nonroot
EXPOSE 8080
# No shell or curl in the image: latch asks its own /readyz (on LATCH_LISTEN).
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 CMD ["/usr/local/bin/latch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve"]
