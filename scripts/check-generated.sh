#!/usr/bin/env bash
# Fails when `go generate ./...` changes the tree: a generated artifact
# (tables, the per-version TLA+ table modules tla/JobTable*.tla, diagrams) is
# stale, or missing (go generate writes it back). Works on a dirty checkout
# too: it compares the tree's state before and after generating.
set -euo pipefail
cd "$(dirname "$0")/.."
state() { git status --porcelain --untracked-files=all; git diff; }
before=$(state | sha256sum)
go generate ./...
after=$(state | sha256sum)
if [ "$before" != "$after" ]; then
  echo "check-generated: go generate changed the tree; generated files were stale:" >&2
  git status --short >&2
  echo "run 'make generate' and commit the result" >&2
  exit 1
fi
echo "check-generated: generated files are up to date"
