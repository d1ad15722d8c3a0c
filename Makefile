.PHONY: build run demo test lint bench fuzz clean

GO ?= go
LDFLAGS := -s -w

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

fuzz:
	./scripts/fuzz.sh

clean:
	rm -rf bin
