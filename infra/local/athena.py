"""A local stand-in for Athena over the analytics dataset: DuckDB runs the named queries.

Athena speaks Trino's SQL; `sqlglot` translates each query to DuckDB's dialect, and DuckDB
reads the gzip JSON Lines files with the column types of the Glue table definition (the same
`TableInput` app.yaml declares and the deployer creates in moto's Glue), partition column from
the `upload_date=…` folders as Athena's partition projection would. Nothing here needs the
network: the files are downloaded from the endpoint's S3 first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Glue (Hive) column types → DuckDB types; anything else is refused with the list.
_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
}


class QueryError(Exception):
    """A query that cannot run locally, with what was wrong."""


def duckdb_type(glue_type: str) -> str:
    try:
        return _TYPES[glue_type.lower()]
    except KeyError:
        raise QueryError(
            f"Glue column type {glue_type!r} has no DuckDB equivalent here; "
            f"expected one of: {', '.join(_TYPES)}"
        ) from None


def translate(trino_sql: str) -> str:
    """Athena's (Trino's) SQL in DuckDB's dialect; what sqlglot cannot translate is an error."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        (statement,) = sqlglot.transpile(
            trino_sql, read="trino", write="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE
        )
    except (SqlglotError, ValueError) as exc:
        raise QueryError(f"cannot translate the query from Trino to DuckDB: {exc}") from exc
    return statement


def check_syntax(trino_sql: str) -> None:
    """Parse as Trino only (for statements such as CTAS that have no DuckDB equivalent)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        parsed = sqlglot.parse_one(trino_sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise QueryError(f"not valid Trino SQL: {exc}") from exc
    if isinstance(parsed, exp.Command):  # sqlglot's fallback for what it could not parse
        raise QueryError(f"not valid Trino SQL: {trino_sql.split()[0]} … was not understood")


def tables_of(trino_sql: str) -> list[str]:
    """The tables a query reads, by name."""
    import sqlglot
    from sqlglot import exp

    return sorted({t.name for t in sqlglot.parse_one(trino_sql, read="trino").find_all(exp.Table)})


def connect(table_input: dict, files: Path):
    """A DuckDB connection with a table named like the Glue table over the files under `files`
    (laid out as under the table's S3 location: `<partition>=<value>/…jsonl.gz`)."""
    import duckdb

    storage = table_input["StorageDescriptor"]
    columns = {c["Name"]: duckdb_type(c["Type"]) for c in storage["Columns"]}
    partitions = {c["Name"]: duckdb_type(c["Type"]) for c in table_input.get("PartitionKeys", [])}
    con = duckdb.connect()
    name = _identifier(table_input["Name"])
    if not any(files.rglob("*.gz")):
        # An empty dataset is an empty table (read_json refuses a glob that matches nothing).
        declared = ", ".join(f"{_identifier(n)} {t}" for n, t in {**columns, **partitions}.items())
        con.execute(f"CREATE TABLE {name} ({declared})")
        return con
    # A table, not a view: the rows are read once and the folder may go.
    con.execute(
        f"CREATE TABLE {name} AS SELECT * FROM read_json({_literal(str(files / '**' / '*.gz'))}, "
        f"format = 'newline_delimited', columns = {_struct(columns)}, "
        f"hive_partitioning = true, hive_types = {_struct(partitions)})"
    )
    return con


def run(con, trino_sql: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one Athena query, run in DuckDB."""
    cursor = con.execute(translate(trino_sql))
    return [d[0] for d in cursor.description], cursor.fetchall()


@contextmanager
def dataset_on_disk(s3: Any, location: str, only: set[str] | None = None) -> Iterator[Path]:
    """The objects under an `s3://bucket/prefix/` location (`only`: just these keys),
    downloaded to a temporary folder with their relative keys (partition folders included)."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    with tempfile.TemporaryDirectory(prefix="local-athena-") as tmp:
        root = Path(tmp)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix) :]
                if only is not None and obj["Key"] not in only:
                    continue
                if not relative or ".." in relative.split("/"):
                    continue
                target = root / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
        yield root


def run_named_query(
    clients: Any, workgroup: str, name: str, only: set[str] | None = None
) -> tuple[list[str], list[tuple]]:
    """Run the workgroup's named query `name` as Athena would, locally: the query and its
    database from the endpoint's Athena, the table definition from its Glue, the files from
    its S3 (`clients` has .athena, .glue and .s3; `only`: over just these dataset objects)."""
    athena, glue = clients.athena, clients.glue
    queries = {}
    for query_id in athena.list_named_queries(WorkGroup=workgroup).get("NamedQueryIds", []):
        query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
        queries[query["Name"]] = query
    if name not in queries:
        raise QueryError(
            f"workgroup {workgroup} has no named query {name!r}; it has: "
            + ", ".join(sorted(queries))
        )
    query = queries[name]
    referenced = tables_of(query["QueryString"])
    if len(referenced) != 1:
        raise QueryError(f"the local stand-in runs queries over one table; {name!r} reads "
                         f"{len(referenced)}: {', '.join(referenced)}")  # fmt: skip
    table = glue.get_table(DatabaseName=query["Database"], Name=referenced[0])["Table"]
    with dataset_on_disk(clients.s3, table["StorageDescriptor"]["Location"], only) as files:
        con = connect(table, files)
        try:
            return run(con, query["QueryString"])
        finally:
            con.close()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _struct(types: dict[str, str]) -> str:
    """A DuckDB struct literal {'name': 'TYPE', …} (names from Glue: quoted, never trusted)."""
    return "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in types.items()) + "}"
