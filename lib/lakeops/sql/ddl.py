"""``CREATE TABLE ... USING DELTA`` for catalog users, generated from the table contracts.

Every :class:`TableSpec` in :mod:`lakeops.lake.tables` becomes one file
``sql/ddl/<schema>.<table>.sql``; the per-model tables (``features.<model>``,
``predictions.<model>``) are written for each configured model as templates
of the shape every model's tables take. ``tests/sql/test_ddl.py`` fails when
a file and its contract differ.

    python -m lakeops.sql.ddl [--conf DIR] [--out DIR] [--check]

Reads the config (for the models); writes only the DDL files.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa

from lakeops.lake import tables
from lakeops.lake.spec import CONTRACT_VERSION_PROPERTY, TableSpec

#: Arrow types of the contracts, as Spark SQL types.
_SCALARS = {
    pa.string(): "string",
    pa.bool_(): "boolean",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.date32(): "date",
    pa.timestamp("us", tz="UTC"): "timestamp",
}

_TEMPLATE_NOTE = """\
-- A template: every model has its own {schema}.<model> table of this shape. Its key
-- columns are the model's entity_keys (typed by key_types) and, for features, its
-- feature and label columns, all from conf/base/models/<model>.yaml; this file is
-- the one for model {model}. Regenerate with `python -m lakeops.sql.ddl` after
-- adding a model."""


def contract_specs() -> list[TableSpec]:
    """Every lakehouse-wide table contract of :mod:`lakeops.lake.tables`, sorted by name."""
    return sorted(tables.SHARED_TABLES, key=lambda spec: str(spec.name))


def model_specs(models: Iterable) -> list[TableSpec]:
    """``features.<model>`` and ``predictions.<model>`` of each model config."""
    return [spec for model in models for spec in tables.model_contracts(model)]


def spark_type(t: pa.DataType) -> str:
    """The Spark SQL type of an Arrow type used by the contracts."""
    if pa.types.is_list(t):
        return f"array<{spark_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ", ".join(f"{f.name}: {spark_type(f.type)}" for f in t) + ">"
    try:
        return _SCALARS[t]
    except KeyError:
        raise ValueError(f"no Spark SQL type for Arrow type {t}") from None


def create_table(spec: TableSpec, *, template_for: str | None = None) -> str:
    """The DDL file for ``spec``; ``template_for`` names the model a per-model table was generated from."""
    name = spec.name
    title = f"{name}: {spec.description}" if spec.description else str(name)
    head = [f"-- {line}" for line in textwrap.wrap(title, width=96)]
    head.append("--")
    head.append("-- Generated from the contract in lakeops.lake.tables by `python -m lakeops.sql.ddl`; do")
    head.append("-- not edit (tests/sql/test_ddl.py fails when this file and the contract differ).")
    head.append(f"-- To register the lakehouse's table rather than create one: location '<lake>/{name.schema}/{name.table}'")
    if template_for:
        head += ["--", _TEMPLATE_NOTE.format(schema=name.schema, model=template_for)]
    columns = [f"    {f.name} {spark_type(f.type)}" + ("," if i < len(spec.schema) - 1 else "")
               for i, f in enumerate(spec.schema)]
    # A nested type (a list of structs) is one long line: sqlfluff is told that is meant.
    columns = [c + ("  -- noqa: LT05" if len(c) > 120 else "") for c in columns]
    body = [f"create table if not exists {name} (", "\n".join(columns), ")", "using delta"]
    if spec.partition_by:
        body.append(f"partitioned by ({', '.join(spec.partition_by)})")
    quote = "'"
    if spec.description:
        # One string however long (Spark's comment clause takes a single literal).
        comment = f"comment {_string(spec.description)}"
        quote = comment[len("comment ")]
        body.append(comment + ("  -- noqa: LT05" if len(comment) > 120 else ""))
    # In the comment's quotes: sqlfluff wants one quote style per file.
    body.append(f"tblproperties ({_string(CONTRACT_VERSION_PROPERTY, quote)} = {_string(str(spec.version), quote)})")
    return "\n".join([*head, "", *body]) + "\n"


def ddl_files(models: Iterable = ()) -> dict[str, str]:
    """File name -> DDL text, for every contract and each model's templates."""
    out = {f"{spec.name}.sql": create_table(spec) for spec in contract_specs()}
    for model in models:
        for spec in model_specs([model]):
            out[f"{spec.name}.sql"] = create_table(spec, template_for=model.name)
    return dict(sorted(out.items()))


def _string(text: str, quote: str | None = None) -> str:
    """A Spark SQL string literal in ``quote``, by default single-quoted, or double-quoted when the text
    has an apostrophe (Spark takes both; sqlfluff prefers no escapes), backslash escapes otherwise."""
    quote = quote or ('"' if "'" in text and '"' not in text else "'")
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def main(argv: Sequence[str] | None = None) -> int:
    from lakeops.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m lakeops.sql.ddl", description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", type=Path, help="the config folder (default: ./conf)")
    parser.add_argument("--out", type=Path, default=Path("sql/ddl"), help="where the files go (default: sql/ddl)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    args = parser.parse_args(argv)
    settings = load_settings(conf_dir=args.conf)
    files = ddl_files(settings.models[name] for name in sorted(settings.models))
    stale = sorted(p.name for p in args.out.glob("*.sql") if p.name not in files) if args.out.is_dir() else []
    changed = [name for name, text in files.items() if not (args.out / name).is_file()
               or (args.out / name).read_text() != text]
    if args.check:
        for name in changed + stale:
            print(f"{args.out / name}: differs from the contracts", file=sys.stderr)
        return 1 if changed or stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in changed:
        (args.out / name).write_text(files[name])
    for name in stale:
        (args.out / name).unlink()
    print(f"{args.out}: {len(files)} file(s), {len(changed)} written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
