# wshub developer and CI targets. `make` alone lists them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go

# Tools are installed into ./bin (git-ignored), pinned here.
BIN := $(CURDIR)/bin
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint

# Per-target knobs; override on the command line, e.g. `make fuzz FUZZTIME=1m`.
TEST_TIMEOUT ?= 12m
BENCHTIME ?= 1s
BENCH ?= .
FUZZTIME ?= 10s
ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

.PHONY: test
test: ## Run every test with the race detector, then the full-size churn test
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@# -race makes 100,000 connections take minutes, so the race run churns
	@# 4,000 and this run the full 100,000 (about 25 s on 2 cores).
	$(GO) test -count=1 -timeout 5m -run '^TestMembersChurnLeavesNothing$$' ./core/

.PHONY: bench
bench: ## Run the benchmarks (BENCH=regexp, BENCHTIME=1s)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...

# Every Fuzz target of every package, found with `go test -list`, so targets
# added later are picked up without touching this file. Go allows -fuzz on
# one target of one package per run, hence the loops.
.PHONY: fuzz
fuzz: ## Run each Fuzz target for FUZZTIME (default 10s)
	@found=0; \
	pkgs=$$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); \
	for pkg in $$pkgs; do \
		listing=$$($(GO) test -list '^Fuzz' -run '^$$' "$$pkg"); \
		targets=$$(grep -E '^Fuzz' <<<"$$listing" || true); \
		for name in $$targets; do \
			found=$$((found + 1)); \
			echo "==> fuzz $$pkg $$name for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done; \
	if [[ $$found -eq 0 ]]; then \
		echo "fuzz: no Fuzz targets in the module, nothing to do"; \
	else \
		echo "fuzz: $$found target(s) ran for $(FUZZTIME) each without a failure"; \
	fi

.PHONY: fmt
fmt: ## Rewrite Go files with gofmt -s
	@$(GOFMT_FILES) | xargs -r gofmt -s -w

# Go files to format-check: all but bin/, caches and testdata (which the go
# tool ignores too and may hold deliberately odd code).
GOFMT_FILES := find . \( -path ./.git -o -path ./bin -o -path ./.cache -o -path ./vendor -o -name testdata \) -prune -o -name '*.go' -print

# All three checks run even when an earlier one fails, so one run shows
# every finding; the target fails if any did.
.PHONY: lint
lint: tools ## gofmt check, go vet, golangci-lint
	@status=0; \
	echo "==> gofmt -l"; \
	unformatted=$$($(GOFMT_FILES) | xargs -r gofmt -l); \
	if [[ -n $$unformatted ]]; then \
		echo "these files need gofmt (run 'make fmt'):"; echo "$$unformatted"; status=1; \
	fi; \
	echo "==> go vet ./..."; \
	$(GO) vet ./... || status=1; \
	echo "==> golangci-lint run ./..."; \
	$(GOLANGCI_LINT) run ./... || status=1; \
	if [[ $$status -ne 0 ]]; then echo "lint: FAILED"; else echo "lint: ok"; fi; \
	exit $$status

.PHONY: tools
tools: ## Install pinned tools into ./bin when missing or of another version
	@if ! "$(GOLANGCI_LINT)" version 2>/dev/null | grep -qE 'version v?$(patsubst v%,%,$(GOLANGCI_LINT_VERSION))( |$$)'; then \
		echo "==> installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(BIN)"; \
		GOBIN="$(BIN)" $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

.PHONY: run
run: ## Run the chat example on one node (ARGS=... passes flags)
	$(GO) run ./examples/chat $(ARGS)

.PHONY: services
services: ## Make sure Redis, NATS and chromium are there (as in CI)
	bash .ci/services.sh
