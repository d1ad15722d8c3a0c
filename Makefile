.PHONY: build run test lint bench clean

GO ?= go
LDFLAGS := -s -w

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/latch ./cmd/latch

run: build
	./bin/latch serve --dev

test:
	./scripts/test.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	./scripts/bench.sh

clean:
	rm -rf bin
