# The two commands of the README. Each installs what it needs first, so both work on a
# fresh machine: `make demo` and `make test`. The demo needs only the npm dependencies and
# the local control plane; the tests also need Chromium, identity servers and helm.
.PHONY: setup setup-test test demo clean

setup:
	bash scripts/setup.sh

setup-test:
	bash scripts/setup-test.sh

# Type check, lint, the drift check of the generated API types, then every test
# (unit and integration against a real control plane).
test: setup-test
	npm run -s check
	npm test

demo: setup
	npm run demo

clean:
	-npm run -s cluster:down
	rm -rf .roster node_modules
