"""What a query may do, decided from its parse tree before any engine sees it.

The text is written in Spark SQL (the house dialect: ``:name`` parameter
markers, backticks). :func:`parse_script` splits it into statements with
sqlglot's Spark tokenizer (so a ``;`` inside a string or a comment splits
nothing), parses each one and classifies it:

- ``query``: a ``select`` (``with``, set operations, ``values``) and nothing
  else: no statement nested inside it, no function that runs other SQL or
  JVM code. The only kind allowed without ``write``.
- ``temp_view`` / ``temp_table``: ``create [or replace] temp[orary] view|table
  <name> as <query>``: session-local scratch objects, allowed with ``write``
  (temporary tables on the DuckDB engine only: Spark has none).

Everything else (DDL, DML, ``copy``, ``set``, ``explain``, ...) is refused
with :class:`QueryRefusedError`. Lake tables are the two-part names
(``ml.drift_metrics``); parameters are the named markers. Reads and writes
no tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from lakeops.constants import NAME_PATTERN
from lakeops.errors import InvalidParameterError
from lakeops.names import TableName

# sqlglot logs a warning when it keeps an unknown statement as a raw Command;
# such statements are refused here with a message of our own.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

Engine = Literal["duckdb", "spark"]
Kind = Literal["query", "temp_view", "temp_table"]

#: Node types that are statements in their own right: never allowed inside a query.
_STATEMENTS = tuple(
    getattr(exp, name)
    for name in (
        "Alter", "Analyze", "Attach", "Cache", "Command", "Comment", "Commit", "Copy", "Create", "Declare",
        "Delete", "Describe", "Detach", "Drop", "Export", "Grant", "Insert", "Install", "Kill", "LoadData",
        "Merge", "Pragma", "Refresh", "Revoke", "Rollback", "Set", "Show", "Transaction", "TruncateTable",
        "Uncache", "Update", "Use",
    )
    if hasattr(exp, name)
)
#: Functions that run what a statement check cannot see: JVM methods (Spark's
#: reflect/java_method) or SQL given as a string (DuckDB's query/query_table).
_REFUSED_FUNCTIONS = frozenset({"reflect", "try_reflect", "java_method", "query", "query_table"})

READ_ONLY_HINT = (
    "lakeops sql is read-only: it runs one query and never writes the lake (--write also allows "
    "temporary views, and on duckdb temporary tables, in a script that ends in a query)"
)


class QueryError(InvalidParameterError):
    """The query text is wrong: it does not parse, names an unknown table or column, lacks a parameter."""


class QueryRefusedError(QueryError):
    """The text asks for something ``lakeops sql`` does not do (DDL, DML, several statements)."""


@dataclass(frozen=True)
class Statement:
    """One parsed statement of a script."""

    text: str  # exactly as written, without the ';'
    tree: exp.Expr
    kind: Kind
    tables: tuple[TableName, ...]  # the lake tables it reads, in order of first mention
    params: tuple[str, ...]  # the named parameters it uses
    target: str | None = None  # the temporary view or table it creates


@dataclass(frozen=True)
class Script:
    """The statements of one ``lakeops sql`` call; the last is the query whose rows are the result."""

    statements: tuple[Statement, ...]

    @property
    def tables(self) -> tuple[TableName, ...]:
        return tuple(dict.fromkeys(t for s in self.statements for t in s.tables))

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for s in self.statements for p in s.params))


def parse_script(text: str, *, write: bool = False, engine: Engine = "duckdb") -> Script:
    """Split, parse and check ``text`` (Spark SQL).

    Args:
        write: also allow temporary views (and, on duckdb, temporary tables) before the final query.
        engine: the engine that will run it (Spark has no temporary tables).

    Raises:
        QueryRefusedError: a statement other than a query (or, with ``write``, a temporary object),
            several statements without ``write``, or a refused function.
        QueryError: the text does not parse, or names a table that is not ``<schema>.<table>``.
    """
    chunks = _split(text)
    if not chunks:
        raise QueryError("no SQL statement given")
    if len(chunks) > 1 and not write:
        raise QueryRefusedError(
            f"found {len(chunks)} statements separated by ';' where one query was expected; {READ_ONLY_HINT}"
        )
    statements = tuple(_statement(chunk, write=write, engine=engine) for chunk in chunks)
    if statements[-1].kind != "query":
        raise QueryRefusedError("a script must end in a query: its rows are what lakeops sql prints")
    return Script(statements)


def duckdb_text(statement: Statement) -> str:
    """The statement in DuckDB's dialect; ``:name`` markers become DuckDB's ``$name``, values stay out of the text."""
    return statement.tree.sql(dialect="duckdb")


def spark_text(statement: Statement, views: Mapping[TableName, str]) -> str:
    """The statement as written, each lake table name replaced by its temporary view.

    The original text is kept (not regenerated) so that Spark runs exactly what
    was written; only the spans of the two-part table names change, located by
    the parser. An unaliased table keeps its own name as alias, so that
    ``drift_metrics.psi`` still resolves.
    """
    edits = []
    for table in statement.tree.find_all(exp.Table):
        ref = _lake_table(table)
        if ref is None:
            continue
        start, end = table.args["db"].meta["start"], table.this.meta["end"] + 1
        alias = "" if table.alias else f" as {ref.table}"
        edits.append((start, end, f"{views[ref]}{alias}"))
    out = statement.text
    for start, end, replacement in sorted(edits, reverse=True):
        out = out[:start] + replacement + out[end:]
    return out


# ----------------------------------------------------------------------------- machinery


def _split(text: str) -> list[str]:
    """The statements of ``text``, split at ``;`` tokens (never inside strings or comments)."""
    try:
        tokens = sqlglot.tokenize(text, read="spark")
    except TokenError as exc:
        raise QueryError(f"cannot read the query: {exc}") from None
    chunks: list[str] = []
    current: list[Token] = []
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            if current:
                chunks.append(text[current[0].start : current[-1].end + 1])
            current = []
        else:
            current.append(token)
    return chunks


def _statement(text: str, *, write: bool, engine: Engine) -> Statement:
    try:
        tree = sqlglot.parse_one(text, read="spark")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        raise QueryError(f"cannot parse the query{where}: {first.get('description', exc)}") from None
    kind, target, body = _classify(tree, text, write=write, engine=engine)
    for node in body.walk():
        if isinstance(node, _STATEMENTS):
            raise QueryRefusedError(f"a {_describe(node)} inside a query is refused; {READ_ONLY_HINT}")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _REFUSED_FUNCTIONS:
                raise QueryRefusedError(f"function {name}() is refused: it runs code this check cannot see")
    mentions = sorted((t.args["db"].meta.get("start", 0), ref) for t in body.find_all(exp.Table)
                      if (ref := _lake_table(t)) is not None)
    tables = list(dict.fromkeys(ref for _, ref in mentions))
    params = []
    for marker in body.find_all(exp.Placeholder):
        name = marker.name
        if not name or name == "?":
            raise QueryError("positional '?' parameters are not supported: use named markers such as :ds")
        if name not in params:
            params.append(name)
    return Statement(text=text, tree=tree, kind=kind, tables=tuple(tables), params=tuple(params), target=target)


def _classify(tree: exp.Expr, text: str, *, write: bool, engine: Engine) -> tuple[Kind, str | None, exp.Expr]:
    """The statement's kind, the object it creates and the part of it that is a query."""
    if isinstance(tree, exp.Query | exp.Values):
        return "query", None, tree
    if isinstance(tree, exp.Create) and _is_temporary(tree):
        kind = str(tree.args.get("kind") or "").upper()
        name = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        body = tree.expression
        if kind in ("VIEW", "TABLE") and isinstance(name, exp.Table) and isinstance(body, exp.Query):
            if not write:
                raise QueryRefusedError(f"CREATE TEMPORARY {kind} needs --write; {READ_ONLY_HINT}")
            if kind == "TABLE" and engine == "spark":
                raise QueryRefusedError("Spark has no temporary tables: use CREATE TEMPORARY VIEW")
            if name.args.get("db") or name.args.get("catalog"):
                raise QueryRefusedError(f"a temporary {kind.lower()} takes a one-part name, not {name.sql('spark')}")
            return ("temp_view" if kind == "VIEW" else "temp_table"), name.name, body
    if not isinstance(tree, _STATEMENTS):  # parsed as something else entirely (`install x` reads as an alias)
        raise QueryRefusedError(f"{text.split(None, 1)[0].upper()} is not a query; {READ_ONLY_HINT}")
    raise QueryRefusedError(f"{_describe(tree)} statements are refused; {READ_ONLY_HINT}")


def _is_temporary(create: exp.Create) -> bool:
    props = create.args.get("properties")
    found = [type(p) for p in (props.expressions if props else [])]
    # Only the TEMPORARY marker: a LOCATION, format or table property would reach storage.
    return found == [exp.TemporaryProperty]


def _lake_table(table: exp.Table) -> TableName | None:
    """The lake table a two-part name refers to; ``None`` for one-part names (CTEs, temporary views)."""
    if not isinstance(table.this, exp.Identifier) or not table.args.get("db"):
        return None
    if table.args.get("catalog"):
        raise QueryError(f"{table.sql('spark')}: lake tables are named <schema>.<table>, without a catalog")
    schema, name = table.db.lower(), table.name.lower()
    if not (NAME_PATTERN.fullmatch(schema) and NAME_PATTERN.fullmatch(name)):
        raise QueryError(f"{table.sql('spark')} is not a lake table name (<schema>.<table>, lowercase letters, digits, _)")
    return TableName(schema, name)


def _describe(node: exp.Expr) -> str:
    """``DROP TABLE``, ``INSERT``, ``EXPLAIN``: what a refused statement is, in SQL words."""
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    kind = node.args.get("kind")
    words = type(node).__name__.upper().replace("TRUNCATETABLE", "TRUNCATE TABLE")
    return f"{words} {str(kind).upper()}" if isinstance(kind, str) and kind else words
