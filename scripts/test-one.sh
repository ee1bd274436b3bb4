#!/usr/bin/env bash
# Runs the given test files only, with the suite's loader and root hooks: scripts/test-one.sh test/e2e/x.test.ts
exec npx mocha -n import=tsx --require test/helpers/hooks.ts --extension ts --timeout 60000 "$@"
