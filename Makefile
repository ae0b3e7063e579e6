# innokeda: `make demo` runs it against a real API server, `make test` runs every test.
SHELL := /usr/bin/env bash
GO ?= go
# Fuzzing budget per target. Empty: an execution count of about 10 s each here. A count,
# not a duration, because go1.26's fuzz coordinator can report a duration's end as a
# failure ("context deadline exceeded", golang/go#75804). FUZZTIME=5m (or 100000x) overrides.
FUZZTIME ?=
fuzztime = $(if $(FUZZTIME),$(FUZZTIME),$(1))
BENCHTIME ?= 2s
# envtest's kube-apiserver and etcd, built from Go modules on first use (see hack/envtest-assets.sh).
ENVTEST_ASSETS = $$(hack/envtest-assets.sh)

.PHONY: all build lint test unit integration e2e packaging fuzz bench demo envtest mariadb docker-build clean helm-docs docs tools

all: lint build

build: ## Build bin/innokeda.
	$(GO) build -trimpath -o bin/innokeda ./cmd/innokeda

# helm-docs, pinned in tools/packaging, writes charts/innokeda/README.md from values.yaml's comments.
HELM_DOCS = $(GO) tool -modfile=tools/packaging/go.mod helm-docs --chart-search-root charts --template-files README.md.gotmpl --log-level warning

helm-docs: ## Regenerate charts/innokeda/README.md from values.yaml.
	$(HELM_DOCS)

docs: helm-docs ## Regenerate the generated docs: the chart README, docs/rules.md (from innokeda lint's rules).
	$(GO) run ./cmd/innokeda lint --rules > docs/rules.md

lint: ## go vet, gofmt, and the chart README up to date with values.yaml.
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	@$(HELM_DOCS) --dry-run > .helm-docs.tmp 2>/dev/null; \
	if ! diff -q .helm-docs.tmp charts/innokeda/README.md >/dev/null; then \
	  rm -f .helm-docs.tmp; echo "charts/innokeda/README.md is stale: run make helm-docs"; exit 1; fi; rm -f .helm-docs.tmp

envtest: ## Build (once) and print the envtest binaries' directory.
	@hack/envtest-assets.sh

mariadb: ## The tests and the demo start their own MariaDB server: install its binaries when missing.
	@if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing mariadb-server (the tests start private instances of it)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null; \
	  else echo "mariadbd not found: run 'sudo apt-get install -y mariadb-server'"; exit 1; fi; \
	fi

# Test tiers: every package is in exactly one. Those that start servers are listed (MariaDB:
# integration; innokeda's binary with an API server: e2e; the chart and the kustomize
# overlays rendered and applied: packaging), and run one package at a time (-p 1): they hold
# dry-runs to their 2 s budget, and side by side on two cores they starved each other into
# timeouts (300 concurrent admissions, 2 timed out). Every other package is a unit test: no
# server, packages in parallel.
MODULE = github.com/innokeda/innokeda
integration_PKGS = internal/dryrun internal/scaleraccount webhook test/harness test/integration test/audit
e2e_PKGS = test/e2e test/demo
packaging_PKGS = test/packaging
unit_PKGS = $$($(GO) list ./... | sed 's|^$(MODULE)/||' | grep -vxF $(foreach p,$(integration_PKGS) $(e2e_PKGS) $(packaging_PKGS),-e $(p)) | sed 's|^|./|')
# tier runs one tier's packages with -race, with extra flags $(2), and prints how long it took.
define tier
	@start=$$(date +%s); \
	$(if $(filter unit,$(1)),INNOKEDA_NO_SERVERS=1 $(GO) test -race -count=1 $(unit_PKGS),KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -race -count=1 $(2) $(addprefix ./,$($(1)_PKGS))) || exit 1; \
	echo "tier $(1): $$(( $$(date +%s) - start )) s"
endef

test: lint mariadb tools ## Everything CI runs: the unit, integration, e2e and packaging tiers with -race, then about 10 s of fuzzing per target; each tier's duration printed.
	$(call tier,unit,)
	$(call tier,integration,-p 1)
	$(call tier,e2e,-p 1)
	$(call tier,packaging,-p 1)
	@start=$$(date +%s); $(MAKE) --no-print-directory fuzz || exit 1; echo "tier fuzz: $$(( $$(date +%s) - start )) s"

integration: mariadb ## The tests with MariaDB (and envtest's API server): the dry-run, the scaler account, the webhooks, the controller and the audit.
	$(call tier,integration,-p 1)

e2e: mariadb ## innokeda's binary against an API server: metrics, TLS, the demo's path.
	$(call tier,e2e,-p 1)

packaging: tools ## The chart and the kustomize overlays: rendered, checked and applied to an API server; promtool on the alerts.
	$(call tier,packaging,-p 1)

# The pinned tools the packaging tests run (helm, kustomize, promtool), built here so that
# their first build on a new machine (minutes for promtool's dependencies) is not paid
# inside a test's timeout.
tools: ## Build the pinned tools the tests run.
	$(GO) tool -modfile=tools/packaging/go.mod helm version >/dev/null
	$(GO) tool -modfile=tools/packaging/go.mod kustomize version >/dev/null
	$(GO) tool -modfile=tools/monitoring/go.mod promtool --version >/dev/null

unit: ## The tests that start no server, packages in parallel.
	$(call tier,unit,)

fuzz: ## Fuzz the admission handler, whole ScaledObjects against MariaDB, the query check and the table reader (FUZZTIME each, or about 10 s).
	$(GO) test -run '^$$' -fuzz '^FuzzHandler$$' -fuzztime $(call fuzztime,40000x) ./webhook/
	$(GO) test -run '^$$' -fuzz '^FuzzValidator$$' -fuzztime $(call fuzztime,2500x) ./webhook/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckQuery$$' -fuzztime $(call fuzztime,15000x) ./internal/dryrun/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(call fuzztime,40000x) ./internal/sqltables/

bench: mariadb ## Benchmarks (ns/op, allocs/op), then the load tool: webhooks vs a floor and KEDA, then -scale; the pictures into docs/performance/ (docs/performance.md).
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./internal/... ./webhook/...
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./test/load -plots docs/performance $(LOADFLAGS)
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./test/load -scale -plots docs/performance $(SCALEFLAGS)

demo: build mariadb ## Start a kube-apiserver and a MariaDB, run bin/innokeda against them: a ScaledObject filled, another denied.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) run ./test/demo --innokeda bin/innokeda

# The image the chart and the kustomize base deploy: innokeda/innokeda:<the chart's appVersion>.
VERSION ?= $(shell awk '/^appVersion:/ { gsub(/"/, "", $$2); print $$2 }' charts/innokeda/Chart.yaml)
IMG ?= innokeda/innokeda:$(VERSION)
PLATFORMS ?= linux/amd64,linux/arm64
# A multi-platform image cannot be loaded into the local engine: push it (or, e.g.,
# BUILDXFLAGS='--output type=oci,dest=innokeda.tar').
BUILDXFLAGS ?= --push
.PHONY: docker-buildx

docker-build: ## Build the container image $(IMG) for the engine's platform (needs a Docker engine).
	docker build -t $(IMG) .

docker-buildx: ## Build $(IMG) for $(PLATFORMS) with docker buildx, and push it.
	docker buildx build --platform $(PLATFORMS) -t $(IMG) $(BUILDXFLAGS) .

clean:
	rm -rf bin
