# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# The rs module is required from the tree (go.mod's replace).
COPY rs/go.mod rs/go.sum ./rs/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /out/latch ./cmd/latch

# Static binary on a distroless base: no shell, no package manager, non-root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latch /usr/local/bin/latch
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve"]
