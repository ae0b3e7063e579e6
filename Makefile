# innokeda: `make demo` runs it against a real API server, `make test` runs every test.
SHELL := /usr/bin/env bash
GO ?= go
FUZZTIME ?= 15s
BENCHTIME ?= 2s
# envtest's kube-apiserver and etcd, built from Go modules on first use (see hack/envtest-assets.sh).
ENVTEST_ASSETS = $$(hack/envtest-assets.sh)

.PHONY: all build lint test unit fuzz bench demo envtest docker-build clean

all: lint build

build: ## Build bin/innokeda.
	$(GO) build -trimpath -o bin/innokeda ./cmd/innokeda

lint: ## go vet and gofmt.
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi

envtest: ## Build (once) and print the envtest binaries' directory.
	@hack/envtest-assets.sh

test: lint ## Everything: unit, integration (envtest), fuzzing for $(FUZZTIME), with -race.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz

unit: ## Only the tests that need no server.
	$(GO) test -race -count=1 ./internal/... ./webhook/...

fuzz: ## Fuzz the admission handler for $(FUZZTIME).
	$(GO) test -run '^$$' -fuzz '^FuzzHandler$$' -fuzztime $(FUZZTIME) ./webhook/

bench: ## Benchmarks, with their ns/op and allocs/op.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

demo: build ## Start a real kube-apiserver, run bin/innokeda against it, and show a ScaledObject being filled.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./test/demo --innokeda bin/innokeda

docker-build: ## Build the container image (needs a Docker engine).
	docker build -t innokeda:dev .

clean:
	rm -rf bin
