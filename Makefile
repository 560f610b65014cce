# github-runner: a Juju machine charm keeping self-hosted GitHub Actions runners on LXD.

GO      ?= go
ARCH    ?= $(shell $(GO) env GOARCH)
BUILD   := build
BIN     := $(BUILD)/github-runner-$(ARCH)
GOFLAGS_BUILD := -trimpath -buildvcs=false -ldflags="-s -w -buildid="
TEST_TIMEOUT ?= 80m

.PHONY: all build charm demo test unit vet lxd-up lxd-down debian-image promtool-up clean

all: charm

## build: the static charm binary for ARCH (default: this machine's)
build:
	CGO_ENABLED=0 GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./charm

## charm: github-runner_ubuntu-22.04-$(ARCH).charm, ready for `juju deploy`
charm: build
	$(GO) run ./cmd/charm-pack -source . -binary $(BIN) -arch $(ARCH) -out .

## demo: the charm's main job end to end on this machine - the packed charm
## under the Juju simulator, real LXD containers, the GitHub simulator
## (starts the project's LXD; root)
demo: lxd-up
	$(GO) run ./cmd/demo

## test: the whole suite, real-LXD tests included (starts the project's LXD,
## builds the Debian test image once per machine and installs promtool for
## the alert rule tests; root).
## Packages run one at a time (-p 1) so that the LXD-heavy ones do not crowd
## the daemon together; tests within a package still run in parallel.
test: vet lxd-up debian-image promtool-up
	$(GO) test -count=1 -p 1 -v -timeout $(TEST_TIMEOUT) ./...

.PHONY: bench chaos

## bench: measure the runner manager on the project's LXD and the GitHub
## simulator; prints the figures and rewrites docs/benchmarks.md (root; a few minutes)
bench: lxd-up debian-image
	$(GO) run ./bench -out docs/benchmarks.md

## chaos: the full resilience suite (36 crash trials, 3 LXD daemon restarts,
## GitHub and LXD faults, bad input, secrets); `make test` runs its bounded form (root)
chaos: lxd-up
	$(GO) test -count=1 -v -timeout 30m ./chaos -args -chaos.full

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

## debian-image: the realistic test image (Debian bookworm with systemd, sudo,
## apt, a user ubuntu) in the project's LXD; built once per machine (about a
## minute) and kept in the LXD's folder
debian-image: lxd-up
	bash scripts/debian-image.sh

## promtool-up: promtool (Debian's prometheus package) for go test ./cos
promtool-up:
	bash scripts/promtool-up.sh

clean:
	rm -rf $(BUILD) github-runner_*.charm
