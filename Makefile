# oxmon build, test, release and image targets. `make help` lists them.
#
# Release platforms (archive names use the short name):
#   x86_64-unknown-linux-gnu  -> x86_64-linux     aarch64-unknown-linux-gnu -> aarch64-linux
#   x86_64-apple-darwin       -> x86_64-macos     aarch64-apple-darwin      -> aarch64-macos
# Linux targets cross-compile from another architecture with CARGO=cross
# (https://github.com/cross-rs/cross) or a cross gcc (see .github/workflows/release.yml);
# macOS targets build on macOS.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
DOCKER ?= docker
VERSION := $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin
TARGET ?= $(shell rustc -vV | sed -n 's/^host: //p')
TARGET_DIR ?= target
DIST ?= $(TARGET_DIR)/dist
IMAGE_PREFIX ?= ghcr.io/oxmon
IMAGE_TAG ?= $(VERSION)
PLATFORMS ?= linux/amd64,linux/arm64

# x86_64-unknown-linux-gnu -> x86_64-linux, aarch64-apple-darwin -> aarch64-macos
platform = $(word 1,$(subst -, ,$(1)))-$(if $(findstring darwin,$(1)),macos,linux)

.PHONY: help build test check-deploy release dist package $(TARGETS) docker docker-server docker-agent docker-push clean-dist

help: ## this list
	@grep -hE '^[a-zA-Z0-9_ -]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 28

build: ## release builds for this machine: target/release/oxmon-{server,operator}, target/agent/oxmon-agent
	$(CARGO) build --release --locked -p oxmon-server -p oxmon-operator
	$(CARGO) build --profile agent --locked -p oxmon-agent

test: ## the whole test suite, as CI runs it (scripts/test)
	scripts/test

check-deploy: ## only the chart, images, install script and workflow checks
	scripts/check-deploy

# One release target: make x86_64-unknown-linux-gnu
$(TARGETS):
	$(CARGO) build --release --locked --target $@ -p oxmon-server
	$(CARGO) build --profile agent --locked --target $@ -p oxmon-agent

dist: ## archives of TARGET (default: this machine) in target/dist/: make dist TARGET=aarch64-apple-darwin
	$(MAKE) --no-print-directory $(TARGET)
	$(MAKE) --no-print-directory package TARGET=$(TARGET)

# The archives of an already built TARGET (the seed README's `make package`).
package:
	@test -n "$(VERSION)" || { echo "no version in Cargo.toml" >&2; exit 1; }
	rm -rf $(DIST)/stage && mkdir -p $(DIST)/stage
	@set -eu; plat=$(call platform,$(TARGET)); \
	for c in server agent; do \
	  name=oxmon-$$c-$$plat; dir=$(DIST)/stage/$$name; mkdir -p $$dir; \
	  if [ $$c = server ]; then \
	    cp $(TARGET_DIR)/$(TARGET)/release/oxmon-server $$dir/; \
	    cp config/*.seed.example.json $$dir/; \
	  else \
	    cp $(TARGET_DIR)/$(TARGET)/agent/oxmon-agent $$dir/; \
	  fi; \
	  cp config/$$c.example.toml deploy/systemd/oxmon-$$c.service scripts/install.sh README.md $$dir/; \
	  [ ! -f LICENSE ] || cp LICENSE $$dir/; \
	  echo "$(VERSION)" > $$dir/VERSION; \
	  tar -C $(DIST)/stage -czf $(DIST)/$$name.tar.gz $$name; \
	  echo "$(DIST)/$$name.tar.gz"; \
	done
	rm -rf $(DIST)/stage
	cd $(DIST) && { command -v sha256sum >/dev/null && sha256sum *.tar.gz || shasum -a 256 *.tar.gz; } > SHA256SUMS

release: ## build and package all four platforms (needs their toolchains), with target/dist/SHA256SUMS
	@for t in $(TARGETS); do $(MAKE) --no-print-directory dist TARGET=$$t; done
	@cat $(DIST)/SHA256SUMS

docker: docker-server docker-agent ## both images for this machine's platform

docker-server: ## image with oxmon-server and oxmon-operator
	$(DOCKER) build -f Dockerfile.server --build-arg VERSION=$(VERSION) -t $(IMAGE_PREFIX)/oxmon-server:$(IMAGE_TAG) .

docker-agent: ## image with oxmon-agent
	$(DOCKER) build -f Dockerfile.agent --build-arg VERSION=$(VERSION) -t $(IMAGE_PREFIX)/oxmon-agent:$(IMAGE_TAG) .

docker-push: ## multi-arch images ($(PLATFORMS)) pushed to $(IMAGE_PREFIX) (docker buildx)
	$(DOCKER) buildx build --platform $(PLATFORMS) -f Dockerfile.server --build-arg VERSION=$(VERSION) \
	  -t $(IMAGE_PREFIX)/oxmon-server:$(IMAGE_TAG) --push .
	$(DOCKER) buildx build --platform $(PLATFORMS) -f Dockerfile.agent --build-arg VERSION=$(VERSION) \
	  -t $(IMAGE_PREFIX)/oxmon-agent:$(IMAGE_TAG) --push .

clean-dist: ## remove target/dist/
	rm -rf $(DIST)
