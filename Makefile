# appmesh — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
MOCHA := node_modules/.bin/mocha --reporter ./hack/mocha-summary-reporter.cjs
# Runs hack/install-consul.sh in the recipe's shell, so a missing Consul fails the target.
WITH_CONSUL := consul_bin=$$(hack/install-consul.sh) && CONSUL_BIN=$$consul_bin

.PHONY: help deps install build lint typecheck test test-unit test-integration test-e2e soak consul run run-standalone dev-consul bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-18s %s\n", $$1, $$2 }'

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json ## install dependencies (npm ci)

build: deps ## compile TypeScript to dist/ (the agent, the CLI, the tests and the web UI)
	rm -rf dist && node_modules/.bin/tsc -p tsconfig.json
	node_modules/.bin/tsc -p src/ui/tsconfig.json && cp src/ui/*.html src/ui/*.css dist/src/ui/

lint: deps ## eslint + prettier check
	node_modules/.bin/eslint .
	node_modules/.bin/prettier --check .

typecheck: deps ## type-check without emitting
	node_modules/.bin/tsc -p tsconfig.json --noEmit
	node_modules/.bin/tsc -p src/ui/tsconfig.json --noEmit

# The suites, run on what `build` produced (built once per `make test`).
RUN_UNIT = $(MOCHA) 'dist/test/unit/**/*.test.js'
RUN_INTEGRATION = $(WITH_CONSUL) $(MOCHA) --timeout 60000 'dist/test/integration/**/*.test.js'
RUN_E2E = $(WITH_CONSUL) $(MOCHA) --timeout 120000 'dist/test/e2e/**/*.test.js'

test: lint build ## lint, typecheck (the build), unit, integration and e2e tests
	$(RUN_UNIT)
	$(RUN_INTEGRATION)
	$(RUN_E2E)

test-unit: build ## fast tests of pure logic
	$(RUN_UNIT)

test-integration: build ## tests against a real Consul agent
	$(RUN_INTEGRATION)

test-e2e: build ## several agents against a real Consul
	$(RUN_E2E)

soak: build ## 10-minute soak test
	$(WITH_CONSUL) APPMESH_SOAK_SECONDS=600 $(MOCHA) 'dist/test/e2e/soak.test.js'

consul: ## ensure a Consul binary (prints its path)
	@hack/install-consul.sh

run: build ## a dev Consul and three agents (n1..n3) on 127.0.0.1 with the examples applied (data in a temp dir)
	$(WITH_CONSUL) hack/dev-cluster.sh

run-standalone: build ## one stand-alone agent on 127.0.0.1:6060 (no Consul)
	node dist/src/cli/main.js agent --data-dir .appmesh/standalone --log-format text

dev-consul: build ## start a dev Consul on 127.0.0.1:8500 and watch the appmesh prefix
	$(WITH_CONSUL) hack/dev-consul.sh

bench: build ## run every benchmark, write bench/results/*.json and bench/REPORT.md
	@set -e; for b in schedule local-apps cluster idle fleet ui; do \
	  [ -e "dist/hack/bench/$$b.js" ] || continue; echo "== $$b"; $(WITH_CONSUL) node "dist/hack/bench/$$b.js"; done
	node dist/hack/bench/report.js

# `make install [PREFIX=/usr/local] [DESTDIR=]`: npm's global layout (what `npm install -g` of the package
# makes), so both installs look alike: $(PREFIX)/lib/node_modules/appmesh (the built dist, package.json and
# the production dependencies, copied from node_modules: no registry access) and the $(PREFIX)/bin/appmesh
# link; the systemd unit with ExecStart at that link; /etc/appmesh/agent.yaml unless one exists.
# INSTALL_FROM=<dir> installs another build output (tests) instead of building dist/.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
INSTALL_FROM ?=
install: $(if $(INSTALL_FROM),deps,build) ## install the agent and CLI to $(DESTDIR)$(PREFIX), the unit, and /etc/appmesh/agent.yaml
	@set -euo pipefail; from="$(or $(INSTALL_FROM),dist)"; lib="$(DESTDIR)$(PREFIX)/lib/node_modules/appmesh"; \
	[ -f "$$from/src/cli/main.js" ] || { echo "$$from/src/cli/main.js is missing: build first" >&2; exit 1; }; \
	rm -rf "$$lib" && mkdir -p "$$lib/dist" "$(DESTDIR)$(PREFIX)/bin"; \
	cp -R "$$from/src" "$$from/api" "$$from/controllers" "$$lib/dist/"; \
	cp package.json README.md "$$lib/"; \
	deps=$$(npm ls --omit=dev --all --parseable | sed -n 's|^$(CURDIR)/node_modules/|node_modules/|p'); \
	for dep in $$deps; do cp -R --parents "$$dep" "$$lib/"; done; \
	chmod 755 "$$lib/dist/src/cli/main.js"; \
	ln -sfn ../lib/node_modules/appmesh/dist/src/cli/main.js "$(DESTDIR)$(PREFIX)/bin/appmesh"; \
	mkdir -p "$(DESTDIR)$(SYSTEMD_UNIT_DIR)"; \
	sed 's|^ExecStart=/usr/local/bin/appmesh |ExecStart=$(PREFIX)/bin/appmesh |' manifests/appmesh-agent.service \
	  >"$(DESTDIR)$(SYSTEMD_UNIT_DIR)/appmesh-agent.service"; \
	chmod 644 "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/appmesh-agent.service"; \
	conf="$(DESTDIR)$(SYSCONFDIR)/appmesh/agent.yaml"; \
	if [ -e "$$conf" ]; then echo "kept the existing $$conf"; else install -D -m 640 manifests/agent.yaml "$$conf"; fi; \
	echo "installed $(DESTDIR)$(PREFIX)/bin/appmesh and $(DESTDIR)$(SYSTEMD_UNIT_DIR)/appmesh-agent.service;" \
	  "edit $$conf (node name, labels, consul), then: systemctl daemon-reload && systemctl enable --now appmesh-agent"

clean: ## remove build output
	rm -rf dist .tools
