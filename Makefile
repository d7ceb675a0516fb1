# compoundwatch: thin targets over the go tool. See README.md.
GO        ?= go
VERSITYGW ?= v1.8.0
GOBIN     ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: setup demo test bench lint fuzz build

# Everything tests and the demo need on a fresh Debian machine.
setup:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgdal-dev gdal-bin pkg-config
	$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW)
	$(GO) mod download

build:
	$(GO) build -o bin/compoundwatch ./cmd/compoundwatch

# The weekly job on generated fixture scenes served by an in-process STAC API.
demo:
	$(GO) run ./cmd/compoundwatch demo --out demo-out

test: lint
	$(GO) test -count=1 -timeout 30m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/go.mod.lint && cp go.sum /tmp/go.sum.lint && $(GO) mod tidy && \
	  if ! cmp -s go.mod /tmp/go.mod.lint || ! cmp -s go.sum /tmp/go.sum.lint; then \
	    cp /tmp/go.mod.lint go.mod; cp /tmp/go.sum.lint go.sum; echo "go mod tidy changes go.mod/go.sum"; exit 1; fi

# Short fuzzing of every parser (the seed corpora also run in make test).
fuzz:
	$(GO) test ./aoi -run '^$$' -fuzz FuzzParse -fuzztime 20s
	$(GO) test ./pipeline/period -run '^$$' -fuzz FuzzParse -fuzztime 20s
	$(GO) test ./pipeline/stac -run '^$$' -fuzz FuzzParseItem -fuzztime 20s
	$(GO) test ./pipeline/stac -run '^$$' -fuzz FuzzSearchPage -fuzztime 20s
