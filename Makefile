# compoundwatch: thin targets over the go tool. See README.md.
GO        ?= go
VERSITYGW ?= v1.8.0
STATICCHECK ?= v0.8.2
GOBIN     ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: setup demo test bench bench-oscd lint fuzz build

# Everything tests and the demo need on a fresh Debian machine.
setup:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgdal-dev gdal-bin pkg-config
	# The Python peer and the OSCD scorer in ../shared/bench (make bench-oscd -peer).
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-rasterio python3-numpy python3-scipy python3-skimage python3-gdal
	# Headless QGIS, the analysts' client: make test opens every alerts file in it.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-qgis qgis-providers
	$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW)
	$(GO) mod download

build:
	$(GO) build -o bin/compoundwatch ./cmd/compoundwatch

# The weekly job on generated fixture scenes served by an in-process STAC API.
demo:
	$(GO) run ./cmd/compoundwatch demo --out demo-out

test: lint
	$(GO) test -count=1 -timeout 30m ./...

# Benchmarks: speed, and peak RSS of a detection on an area and on one four times as large.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./...

# Detection quality and wall time on the OSCD development cities, against the
# Python peer when its Debian packages are installed (make setup).
PEER := $(shell /usr/bin/python3 -c 'import rasterio, skimage' >/dev/null 2>&1 && echo -peer)
bench-oscd: build
	$(GO) run ./cmd/oscdbench -data ../shared/oscd -bin bin/compoundwatch -out bench-out/oscd $(PEER)

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) ./...
	@cp go.mod /tmp/go.mod.lint && cp go.sum /tmp/go.sum.lint && $(GO) mod tidy && \
	  if ! cmp -s go.mod /tmp/go.mod.lint || ! cmp -s go.sum /tmp/go.sum.lint; then \
	    cp /tmp/go.mod.lint go.mod; cp /tmp/go.sum.lint go.sum; echo "go mod tidy changes go.mod/go.sum"; exit 1; fi

# Short fuzzing of every parser (the seed corpora also run in make test).
# Minimizing a new input of a 30 KB recorded STAC item takes the default 60 s
# per input, which stalls a 20 s run; 2 s is plenty.
FUZZMIN := -fuzzminimizetime 2s
fuzz:
	$(GO) test ./aoi -run '^$$' -fuzz FuzzParse -fuzztime 20s $(FUZZMIN)
	$(GO) test ./pipeline/period -run '^$$' -fuzz FuzzParse -fuzztime 20s $(FUZZMIN)
	$(GO) test ./pipeline/stac -run '^$$' -fuzz FuzzParseItem -fuzztime 20s $(FUZZMIN)
	$(GO) test ./pipeline/stac -run '^$$' -fuzz FuzzSearchPage -fuzztime 20s $(FUZZMIN)
	$(GO) test ./pipeline/alert -run '^$$' -fuzz FuzzUnmarshal -fuzztime 20s $(FUZZMIN)
	$(GO) test ./pipeline/plan -run '^$$' -fuzz FuzzParseShard -fuzztime 20s $(FUZZMIN)
