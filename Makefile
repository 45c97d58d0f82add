# semgate: `make run` starts the gateway on its offline default config,
# `make test` runs every test.

GO       ?= go
BIN      ?= bin/semgate
CONFIG   ?= configs/semgate.yaml
FUZZTIME ?= 10s

.PHONY: run build test test-short race fuzz vet bench-overhead clean

run: build
	./$(BIN) serve --config $(CONFIG)

build:
	$(GO) build -o $(BIN) ./cmd/semgate

# The full suite: vet, every test with the race detector, and a short fuzz
# run of each fuzz target.
test: vet
	$(GO) test -race -count=1 ./...
	$(MAKE) fuzz

test-short:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) ./providers/sse
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZTIME) ./gateway

bench-overhead: build
	$(GO) run ./bench overhead

clean:
	rm -rf bin
