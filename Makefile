# The two commands of the README. Each installs what it needs first, so both work on a
# fresh machine: `make demo` and `make test`.
.PHONY: setup test demo check clean

setup:
	bash scripts/setup.sh

# Type check, lint, the drift check of the generated API types, then every test
# (unit and integration against a real control plane).
test: setup
	npm run -s check
	npm test

demo: setup
	npm run demo

clean:
	-npm run -s cluster:down
	rm -rf .roster node_modules
