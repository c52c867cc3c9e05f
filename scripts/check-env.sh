#!/usr/bin/env bash
# Checks what `make demo` and `make test` need from the machine before they
# install anything: Python >= 3.11 and Java 17 or newer (Spark 4).
set -u
python=${1:-python3}
fail=0
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found: install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11)" >&2
  fail=1
elif ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: $("$python" --version 2>&1) is too old: lakeops needs Python 3.11 or newer (make PYTHON=...)" >&2
  fail=1
elif ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "error: $python cannot create virtual environments: install the venv module (e.g. apt-get install python3-venv)" >&2
  fail=1
fi
java_bin=java
[ -n "${JAVA_HOME:-}" ] && java_bin="$JAVA_HOME/bin/java"
if ! command -v "$java_bin" >/dev/null 2>&1; then
  echo "error: Java not found: Spark 4 needs Java 17 or 21 (e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)" >&2
  fail=1
else
  version=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -n 1)
  if [ -z "$version" ] || [ "$version" -lt 17 ]; then
    echo "error: Java ${version:-unknown} found ($java_bin); Spark 4 needs Java 17 or 21 (e.g. apt-get install openjdk-17-jre-headless)" >&2
    fail=1
  fi
fi
exit $fail
