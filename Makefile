.PHONY: build run demo test lint bench bench-compare fuzz clean

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/latch ./cmd/latch

run: build
	./bin/latch serve --dev

demo: build
	./scripts/demo.sh

test:
	./scripts/test.sh

lint:
	./scripts/lint.sh

bench:
	./scripts/bench.sh

# make bench-compare A=bench-results/old.json B=bench-results/new.json
bench-compare:
	go run ./internal/bench compare "$(A)" "$(B)"

fuzz:
	./scripts/fuzz.sh

clean:
	rm -rf bin
