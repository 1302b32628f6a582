"""Record the SQL that the application sends to PostgreSQL and check its query plans."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

INDEX_NODES = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})
EXPLAINED_PREFIXES = ("select", "with", "update", "delete")


@dataclass(frozen=True)
class IssuedStatement:
    """One statement as the driver received it: SQL with ``$n`` markers and its parameters."""

    case: str
    sql: str
    parameters: tuple[Any, ...]


@dataclass
class StatementRecorder:
    """Collects every statement that any engine of this process executes while recording."""

    statements: list[IssuedStatement] = field(default_factory=list)
    _case: str | None = None

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if self._case is not None and not executemany:
            self.statements.append(IssuedStatement(self._case, statement, tuple(parameters or ())))

    @contextmanager
    def listening(self) -> Iterator[StatementRecorder]:
        event.listen(Engine, "before_cursor_execute", self._before_execute)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self._before_execute)

    @contextmanager
    def case(self, name: str) -> Iterator[None]:
        self._case = name
        try:
            yield
        finally:
            self._case = None

    def explainable(self) -> list[IssuedStatement]:
        return [s for s in self.statements if s.sql.lstrip().lower().startswith(EXPLAINED_PREFIXES)]


@dataclass(frozen=True)
class PlanFacts:
    """What the checks need from one ``EXPLAIN (FORMAT JSON)`` result."""

    total_cost: float
    scans: list[tuple[str, str, str | None]]
    """``(node type, relation, index)`` of every scan node."""
    text: str
    rows_read: int | None = None
    """Rows that the scans of big tables returned or filtered out when the statement ran
    (EXPLAIN ANALYZE), or None for a statement that was only planned."""

    def seq_scanned(self, tables: Sequence[str]) -> list[str]:
        return [relation for node, relation, _index in self.scans if node == "Seq Scan" and relation in tables]

    def uses_index(self) -> bool:
        return any(node in INDEX_NODES for node, _relation, _index in self.scans)

    def touches(self, tables: Sequence[str]) -> bool:
        return any(relation in tables for _node, relation, _index in self.scans)


def _walk(node: dict[str, Any], scans: list[tuple[str, str, str | None]], lines: list[str], depth: int) -> None:
    relation = node.get("Relation Name") or ""
    index = node.get("Index Name")
    if relation or index:
        scans.append((node["Node Type"], relation, index))
    target = f" on {relation}" if relation else ""
    using = f" using {index}" if index else ""
    lines.append(f"{'  ' * depth}{node['Node Type']}{target}{using} (cost {node['Total Cost']:.0f}, rows {node['Plan Rows']})")
    for child in node.get("Plans", []):
        _walk(child, scans, lines, depth + 1)


def _rows_read(node: dict[str, Any], tables: Sequence[str]) -> int:
    rows = 0
    if node.get("Relation Name") in tables or (node["Node Type"] == "Bitmap Index Scan"):
        loops = int(node.get("Actual Loops", 1))
        rows += loops * (int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0)))
        rows += loops * int(node.get("Rows Removed by Index Recheck", 0))
    return rows + sum(_rows_read(child, tables) for child in node.get("Plans", []))


async def explain(connection: AsyncConnection, statement: IssuedStatement, *, big_tables: Sequence[str]) -> PlanFacts:
    """Plan ``statement`` with its recorded parameters, as PostgreSQL would run it.

    A SELECT also runs once under EXPLAIN ANALYZE to count the rows it reads. The caller
    rolls the connection back, which releases the row locks of SELECT ... FOR UPDATE.
    """
    result = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement.sql, statement.parameters)
    root = result.scalar_one()[0]["Plan"]
    scans: list[tuple[str, str, str | None]] = []
    lines: list[str] = []
    _walk(root, scans, lines, 0)
    rows_read = None
    if statement.sql.lstrip().lower().startswith("select"):
        analyzed = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement.sql, statement.parameters
        )
        rows_read = _rows_read(analyzed.scalar_one()[0]["Plan"], big_tables)
    return PlanFacts(total_cost=float(root["Total Cost"]), scans=scans, text="\n".join(lines), rows_read=rows_read)
