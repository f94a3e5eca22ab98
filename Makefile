# wshub developer and CI targets. `make` alone lists them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go

# Tools are installed into ./bin (git-ignored), pinned here.
BIN := $(CURDIR)/bin
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint

# The library is the root module; the examples are a module of their own
# (examples/go.mod, with a replace to the root), so what only they need
# (chromedp, golang-jwt) stays out of the library's module graph.
MODULES := . examples

# Modules the library must never need: only examples and their tests use
# them. `make lint` fails if a library package or test imports one (go mod
# why) or the root go.mod requires one. (Some of our dependencies' go.mod
# files mention golang-jwt, so it is in `go list -m all` without ever being
# built or downloaded for a library user.)
EXAMPLE_ONLY_MODULES := github.com/chromedp/chromedp github.com/golang-jwt/jwt/v5

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
test: ## Run every test of both modules with the race detector, the full-size churn test, then the client package's tests
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd examples && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@# -race makes 100,000 connections take minutes, so the race run churns
	@# 4,000 and this run the full 100,000 (about 25 s on 2 cores).
	$(GO) test -count=1 -timeout 5m -run '^TestMembersChurnLeavesNothing$$' ./core/
	$(MAKE) --no-print-directory test-js

# The client package's tests start the Go test server (clients/js/testserver)
# and need Redis for the drain test, as the Go tests do.
.PHONY: test-js
test-js: ## Install the client package's locked dev dependencies, build it and run its tests against a real server
	cd clients/js && npm ci --no-audit --no-fund && npm test

.PHONY: bench
bench: ## Run the library's benchmarks (BENCH=regexp, BENCHTIME=1s)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) ./...

# Every Fuzz target of every package of both modules, found with
# `go test -list`, so targets added later are picked up without touching
# this file. Go allows -fuzz on one target of one package per run, hence
# the loops.
.PHONY: fuzz
fuzz: ## Run each Fuzz target for FUZZTIME (default 10s)
	@found=0; \
	for mod in $(MODULES); do \
		pkgs=$$(cd $$mod && $(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); \
		for pkg in $$pkgs; do \
			listing=$$(cd $$mod && $(GO) test -list '^Fuzz' -run '^$$' "$$pkg"); \
			targets=$$(grep -E '^Fuzz' <<<"$$listing" || true); \
			for name in $$targets; do \
				found=$$((found + 1)); \
				echo "==> fuzz $$pkg $$name for $(FUZZTIME)"; \
				(cd $$mod && $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"); \
			done; \
		done; \
	done; \
	if [[ $$found -eq 0 ]]; then \
		echo "fuzz: no Fuzz targets, nothing to do"; \
	else \
		echo "fuzz: $$found target(s) ran for $(FUZZTIME) each without a failure"; \
	fi

.PHONY: fmt
fmt: ## Rewrite Go files with gofmt -s
	@$(GOFMT_FILES) | xargs -r gofmt -s -w

# Go files to format-check: all but bin/, caches and testdata (which the go
# tool ignores too and may hold deliberately odd code).
GOFMT_FILES := find . \( -path ./.git -o -path ./bin -o -path ./.cache -o -path ./vendor -o -name testdata \) -prune -o -name '*.go' -print

# Every check runs even when an earlier one fails, so one run shows every
# finding; the target fails if any did.
.PHONY: lint
lint: tools ## gofmt check, go vet and golangci-lint on both modules; the library's module graph
	@status=0; \
	echo "==> gofmt -l"; \
	unformatted=$$($(GOFMT_FILES) | xargs -r gofmt -l); \
	if [[ -n $$unformatted ]]; then \
		echo "these files need gofmt (run 'make fmt'):"; echo "$$unformatted"; status=1; \
	fi; \
	for mod in $(MODULES); do \
		echo "==> go vet ./... ($$mod)"; \
		(cd $$mod && $(GO) vet ./...) || status=1; \
		echo "==> golangci-lint run ./... ($$mod)"; \
		(cd $$mod && $(GOLANGCI_LINT) run ./...) || status=1; \
	done; \
	echo "==> no library package or test needs an example-only module"; \
	for m in $(EXAMPLE_ONLY_MODULES); do \
		why=$$($(GO) mod why -m "$$m"); \
		if ! grep -q "main module does not need module $$m" <<<"$$why" || \
			grep -qE "^[[:space:]]*$$m " go.mod; then \
			echo "the library needs $$m:"; echo "$$why"; status=1; \
		fi; \
	done; \
	if [[ $$status -ne 0 ]]; then echo "lint: FAILED"; else echo "lint: ok"; fi; \
	exit $$status

.PHONY: tools
tools: ## Install pinned tools into ./bin when missing or of another version
	@if ! "$(GOLANGCI_LINT)" version 2>/dev/null | grep -qE 'version v?$(patsubst v%,%,$(GOLANGCI_LINT_VERSION))( |$$)'; then \
		echo "==> installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(BIN)"; \
		GOBIN="$(BIN)" $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi

# Built, then run in the recipe's place rather than with `go run`, which
# exits 1 whenever it sees Ctrl-C, whatever the program returns (make then
# printed "Error 1"). The chat exits 0 after its drain and make prints no
# error; make's own status after Ctrl-C is still 130, as for any target it
# was running (GNU make re-raises SIGINT on itself). `make chat` then
# `bin/chat` gives the chat's own status.
.PHONY: chat
chat: ## Build the chat example into bin/chat
	cd examples && $(GO) build -o $(BIN)/chat ./chat

.PHONY: run
run: chat ## Run the chat example on one node (ARGS=... passes flags)
	exec $(BIN)/chat $(ARGS)

.PHONY: services
services: ## Make sure Redis, NATS and chromium are there (as in CI)
	bash .ci/services.sh
