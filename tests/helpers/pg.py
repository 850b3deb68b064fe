"""A real PostgreSQL for the tests: one fresh schema per test (``fresh_schema``).

The server is ``$MASKER_TEST_DATABASE_URL`` (default the CI's
``postgresql://postgres@127.0.0.1:5432/test``; ``.ci/run`` starts it). A
server that does not answer FAILS these tests, it does not skip them;
``MASKER_TEST_NO_POSTGRES=1`` skips them, saying so, on a machine without one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("MASKER_TEST_DATABASE_URL", DEFAULT_URL)


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (``search_path``)."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"


def connect() -> psycopg.Connection:
    if os.environ.get("MASKER_TEST_NO_POSTGRES") == "1":
        pytest.skip("MASKER_TEST_NO_POSTGRES=1: the PostgreSQL tests are skipped on request")
    try:
        return psycopg.connect(server_url(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL at {server_url()} is not reachable ({type(e).__name__}); start it "
                    "(.ci/run does) or set MASKER_TEST_NO_POSTGRES=1 to skip these tests", pytrace=False)


def fresh_schema() -> Iterator[str]:
    """Yields a database URL whose schema is new and empty; drops it afterwards (``yield from`` in a fixture)."""
    schema = f"masker_test_{secrets.token_hex(6)}"
    with connect() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(server_url(), schema)
    finally:
        with connect() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
