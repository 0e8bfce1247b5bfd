"""Scanners of the secrets test: where secret values could leak, and SQL built by pasting values.

* ``secret_values(sim)``: the password, its md5, the API key, the Basic header value and every
  session token the simulator issued.
* ``find_in_files`` / ``find_in_sqlite`` / ``find_in_postgres``: every occurrence of those values
  in log files, in every column of every table of the Airflow metadata DB (XComs included) and of
  the warehouse.
* ``pasted_sql(source)``: SQL-looking strings built from runtime values (f-string, ``%``,
  ``str.format`` or ``+`` with a non-constant part). Interpolating constants (UPPER_CASE names,
  and comprehensions over them) and ``psycopg.sql`` composition are allowed.
"""

from __future__ import annotations

import ast
import base64
import builtins
import hashlib
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


def secret_values(sim: Any, password: str | None = None) -> dict[str, str]:
    """Named secret values of the simulator account (or of ``password`` for that account)."""
    config = sim.config
    plain = config.password if password is None else password
    md5 = hashlib.md5(plain.encode(), usedforsecurity=False).hexdigest()
    basic = base64.b64encode(f"{config.email}:{md5}".encode()).decode()
    found = {"password": plain, "password_md5": md5, "api_key": config.api_key, "basic_auth_value": basic}
    for number, token in enumerate(sorted(getattr(sim, "tokens", ()))):
        found[f"session_token_{number}"] = token
    return found


@dataclass(frozen=True)
class Leak:
    where: str
    secret: str

    def __str__(self) -> str:
        return f"{self.secret} in {self.where}"


def _hits(text: str, secrets: Mapping[str, str], where: str) -> list[Leak]:
    lowered = text.lower()
    return [Leak(where, name) for name, value in secrets.items() if value.lower() in lowered]


def find_in_files(paths: Iterable[Path], secrets: Mapping[str, str]) -> list[Leak]:
    leaks = []
    for path in paths:
        leaks.extend(_hits(path.read_text(encoding="utf-8", errors="replace"), secrets, str(path)))
    return leaks


def find_in_sqlite(db: Path, secrets: Mapping[str, str]) -> tuple[list[Leak], dict[str, int]]:
    """Leaks in every column of every table; also the row count per table searched."""
    leaks, counts = [], {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            rows = conn.execute(f"SELECT * FROM {quoted}").fetchall()  # noqa: S608 - catalog names
            counts[table] = len(rows)
            for row in rows:
                text = " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
                leaks.extend(_hits(text, secrets, f"metadata table {table}"))
    return leaks, counts


def find_in_postgres(dsn: str, secrets: Mapping[str, str]) -> tuple[list[Leak], dict[str, int]]:
    """Leaks in every row (as text: every column) of every table of the ``public`` schema."""
    leaks, counts = [], {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
            rows = conn.execute(query).fetchall()
            counts[table] = len(rows)
            for (text,) in rows:
                leaks.extend(_hits(text, secrets, f"warehouse table {table}"))
    return leaks, counts


def exception_texts(exc: BaseException) -> str:
    """``str``, ``repr`` and ``args`` of an exception and of every exception chained to it."""
    parts, seen, current = [], set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# SQL built by pasting values

SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|CREATE|ALTER|DROP|TRUNCATE|GRANT|REFRESH|COPY)\b"
    r"[\s\S]*\b(FROM|INTO|SET|TABLE|VIEW|INDEX|WHERE|VALUES|ON|TO|STDIN)\b",
    re.IGNORECASE,
)
CONSTANT = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_BUILTINS = set(dir(builtins))


@dataclass(frozen=True)
class Pasted:
    path: str
    line: int
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: SQL built by {self.how}"


def _literal_text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_text(node.left) + " " + _literal_text(node.right)
    return ""


def _constant_only(node: ast.AST) -> bool:
    """Whether ``node`` only uses constants: UPPER_CASE names, literals, builtins, its own
    comprehension variables and method calls on those (``", ".join(...)``)."""
    bound: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.comprehension):
            bound |= {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not (
            sub.id in bound or CONSTANT.match(sub.id) or sub.id in _BUILTINS
        ):
            return False
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self":
            return False
    return True


def _is_psycopg_sql(node: ast.AST) -> bool:
    """``sql.SQL(...)`` / ``psycopg.sql.SQL(...)`` / ``SQL(...)``: composition with placeholders."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in {"SQL", "Composed"}


def pasted_sql(source: str, path: str = "<string>") -> list[Pasted]:
    """Every place in ``source`` where SQL-looking text is built from a non-constant value."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr) and SQL_WORDS.search(_literal_text(node)):
            values = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
            if not all(_constant_only(v) for v in values):
                found.append(Pasted(path, node.lineno, "an f-string with a runtime value"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if SQL_WORDS.search(_literal_text(node.left)) and not _constant_only(node.right):
                found.append(Pasted(path, node.lineno, "%-formatting"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            text = _literal_text(node)
            if SQL_WORDS.search(text) and not (_constant_only(node.left) and _constant_only(node.right)):
                found.append(Pasted(path, node.lineno, "concatenation with a runtime value"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and not _is_psycopg_sql(node.func.value)
            and SQL_WORDS.search(_literal_text(node.func.value))
        ):
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if not all(_constant_only(a) for a in arguments):
                found.append(Pasted(path, node.lineno, "str.format with a runtime value"))
    return found


def pasted_sql_in_tree(root: Path) -> tuple[list[Pasted], int]:
    """``pasted_sql`` over every ``.py`` file under ``root``; also how many files were read."""
    files = sorted(root.rglob("*.py"))
    found = []
    for path in files:
        found.extend(pasted_sql(path.read_text(encoding="utf-8"), str(path)))
    return found, len(files)


JINJA_VALUE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
JINJA_STATEMENT = re.compile(r"\{%-?\s*(\w+)")


def jinja_in_sql_files(root: Path) -> list[str]:
    """SQL files that paste Jinja values (``{{ ... }}``) or use a Jinja statement other than include."""
    problems = []
    for path in sorted(root.rglob("*.sql")):
        text = path.read_text(encoding="utf-8")
        if JINJA_VALUE.search(text):
            problems.append(f"{path}: Jinja expression {{{{ ... }}}} in SQL")
        problems += [f"{path}: Jinja {{% {m} %}}" for m in JINJA_STATEMENT.findall(text) if m != "include"]
    return problems
