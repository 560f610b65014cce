# github-runner: a Juju machine charm keeping self-hosted GitHub Actions runners on LXD.

GO      ?= go
ARCH    ?= $(shell $(GO) env GOARCH)
BUILD   := build
BIN     := $(BUILD)/github-runner-$(ARCH)
GOFLAGS_BUILD := -trimpath -buildvcs=false -ldflags="-s -w -buildid="
TEST_TIMEOUT ?= 80m

.PHONY: all build charm test unit vet lxd-up lxd-down clean

all: charm

## build: the static charm binary for ARCH (default: this machine's)
build:
	CGO_ENABLED=0 GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./charm

## charm: github-runner_ubuntu-22.04-$(ARCH).charm, ready for `juju deploy`
charm: build
	$(GO) run ./cmd/charm-pack -source . -binary $(BIN) -arch $(ARCH) -out .

## test: the whole suite, real-LXD tests included (starts the project's LXD; root)
test: vet lxd-up
	$(GO) test -count=1 -v -timeout $(TEST_TIMEOUT) ./...

## unit: only what needs no LXD daemon (LXD tests skip outside CI)
unit:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

## lxd-up / lxd-down: the project's private LXD daemon for tests and the demo
lxd-up:
	bash scripts/lxd-up.sh

lxd-down:
	bash scripts/lxd-down.sh

clean:
	rm -rf $(BUILD) github-runner_*.charm
