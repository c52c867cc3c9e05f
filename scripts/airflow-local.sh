#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (UI and API server, scheduler, dag-processor,
# triggerer) on http://127.0.0.1:${AIRFLOW_PORT:-8080}, with AIRFLOW_HOME=.airflow/, the
# DAGs of dags/ and the demo lakehouse ./lakehouse (`make demo` fills it), LocalExecutor.
# The metadata DB is a PostgreSQL server of its own (SQLite takes one writer at a time): data
# in .airflow/pg, on 127.0.0.1:${AIRFLOW_PG_PORT:-55432}, started here through
# scripts/local_postgres.py (the tests' server; as root it runs as the postgres user) and
# stopped when standalone exits. MLflow runs as teams run it, a tracking server
# (`mlflow server`, scripts/local_mlflow.py, its log in .airflow/mlflow) on
# http://127.0.0.1:${AIRFLOW_MLFLOW_PORT:-55500}: runs and registry in the database `mlflow` of
# that PostgreSQL, the default artifact root the lake's mlartifacts/; the tasks get it as
# LAKEOPS_MLFLOW_TRACKING_URI, and it stops with the rest. With LAKEOPS_MLFLOW_TRACKING_URI
# already set, the tasks use that server and none is started. For a laptop, not for production.
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
MLFLOW=("$BIN/python" "$ROOT/scripts/local_mlflow.py")
PG_PORT=${AIRFLOW_PG_PORT:-55432}
# MLflow first (its workers hold connections to PostgreSQL); each stop does nothing when nothing runs.
trap '"${MLFLOW[@]}" stop "$AIRFLOW_HOME/mlflow"; "${PG[@]}" stop "$AIRFLOW_HOME/pg"' EXIT
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$("${PG[@]}" start "$AIRFLOW_HOME/pg" --port "$PG_PORT" --database airflow)
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
if [ -n "${LAKEOPS_MLFLOW_TRACKING_URI:-}" ]; then
  MLFLOW_STORE="the server of LAKEOPS_MLFLOW_TRACKING_URI; none started here"
else
  ARTIFACTS=${LAKEOPS_LAKE%/}/mlartifacts
  LAKEOPS_MLFLOW_TRACKING_URI=$("${MLFLOW[@]}" start "$AIRFLOW_HOME/mlflow" --port "${AIRFLOW_MLFLOW_PORT:-55500}" \
    --backend-store-uri "postgresql://postgres@127.0.0.1:$PG_PORT/mlflow" --artifact-root "$ARTIFACTS")
  MLFLOW_STORE="runs and registry in the PostgreSQL database mlflow, artifacts under $ARTIFACTS"
fi
export LAKEOPS_MLFLOW_TRACKING_URI
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
MLflow UI and tracking URI: $LAKEOPS_MLFLOW_TRACKING_URI
  ($MLFLOW_STORE).
The demo's champion is in the lake's own MLflow store (mlflow.db), not on this server: train one
here first (the train DAG prepares its window, trains, and promotes through the gate), then
process the demo's last week:
  export AIRFLOW_HOME=$AIRFLOW_HOME AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  $BIN/airflow dags unpause lakeops_incident_risk_train
  $BIN/airflow dags trigger lakeops_incident_risk_train --conf '{"ds": "2024-01-30"}'
  # once that run has succeeded (the UI, or: $BIN/airflow dags list-runs lakeops_incident_risk_train)
  $BIN/airflow backfill create --dag-id lakeops_incident_risk_daily \\
    --from-date 2024-01-25 --to-date 2024-01-31 --reprocess-behavior failed --max-active-runs 1
EOF
# Not exec: the EXIT trap stops MLflow and PostgreSQL once standalone has exited (Ctrl-C included).
"$BIN/airflow" standalone
