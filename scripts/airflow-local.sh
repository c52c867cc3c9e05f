#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (UI and API server, scheduler, dag-processor,
# triggerer) on http://127.0.0.1:${AIRFLOW_PORT:-8080}, with AIRFLOW_HOME=.airflow/, the
# DAGs of dags/ and the demo lakehouse ./lakehouse (`make demo` fills it), LocalExecutor.
# The metadata DB is a PostgreSQL server of its own (SQLite takes one writer at a time): data
# in .airflow/pg, on 127.0.0.1:${AIRFLOW_PG_PORT:-55432}, started here through
# scripts/local_postgres.py (the tests' server; as root it runs as the postgres user) and
# stopped when standalone exits. For a laptop, not for production.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.venv/bin}
[ -x "$BIN/airflow" ] || { echo "no $BIN/airflow: run \`make test\` or \`make demo\` once to create .venv"; exit 1; }

# standalone starts its components as `airflow ...` from PATH.
export PATH=$BIN:$PATH
export AIRFLOW_HOME=${AIRFLOW_HOME:-$ROOT/.airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=${AIRFLOW_PORT:-8080}
# What the tasks read (an Airflow Variable of the same name in lower case wins over these).
export LAKEOPS_HOME=$ROOT
export LAKEOPS_LAKE=${LAKEOPS_LAKE:-$ROOT/lakehouse}
export LAKEOPS_CONF=${LAKEOPS_CONF:-$ROOT/conf}

if [ ! -d "$LAKEOPS_LAKE/raw/telemetry" ]; then
  echo "note: no lakehouse at $LAKEOPS_LAKE yet: \`make demo\` builds it (the DAGs load anyway)"
fi

mkdir -p "$AIRFLOW_HOME"
PG=("$BIN/python" "$ROOT/scripts/local_postgres.py")
trap '"${PG[@]}" stop "$AIRFLOW_HOME/pg"' EXIT
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$("${PG[@]}" start "$AIRFLOW_HOME/pg" --port "${AIRFLOW_PG_PORT:-55432}" --database airflow)
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
"$BIN/airflow" db migrate >/dev/null
# spark-submit runs on this machine unless spark_default already says otherwise.
if ! "$BIN/airflow" connections get spark_default >/dev/null 2>&1; then
  "$BIN/airflow" connections add spark_default --conn-type spark --conn-host 'local[*]' \
    --conn-extra '{"deploy-mode": "client"}' >/dev/null
fi

cat <<EOF
Airflow home $AIRFLOW_HOME, DAGs from $ROOT/dags, lakehouse $LAKEOPS_LAKE,
metadata DB $AIRFLOW__DATABASE__SQL_ALCHEMY_CONN.
UI: http://127.0.0.1:$AIRFLOW__API__PORT (user admin; the password is printed below and kept in
$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated). New DAGs start paused.
Process the demo's last week:
  AIRFLOW_HOME=$AIRFLOW_HOME AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN \\
    $BIN/airflow backfill create --dag-id lakeops_incident_risk_daily \\
    --from-date 2024-01-25 --to-date 2024-01-31 --reprocess-behavior failed --max-active-runs 1
EOF
# Not exec: the EXIT trap stops PostgreSQL once standalone has exited (Ctrl-C included).
"$BIN/airflow" standalone
