"""The hub's SQLite database runs with a write-ahead log and synchronous=NORMAL (fewer disk
syncs per launch, issue 14); other databases of the process are left as they are."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from jupyterhub_lti_stack.hub import sqlite_file, write_ahead_log


def test_the_running_hubs_database_has_a_write_ahead_log(hub):
    with sqlite3.connect(f"file:{hub.tmp / 'jupyterhub.sqlite'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert f"Hub database {hub.tmp / 'jupyterhub.sqlite'}: journal_mode=wal, synchronous=NORMAL" in hub.log_text()


@pytest.mark.parametrize("url, path", [
    ("sqlite:////srv/jupyterhub/data/jupyterhub.sqlite", "/srv/jupyterhub/data/jupyterhub.sqlite"),
    ("sqlite:///relative.sqlite", "relative.sqlite"),
    ("sqlite:///hub.sqlite?timeout=5", "hub.sqlite"),
    ("sqlite:///:memory:", None),
    ("sqlite://", None),
    ("postgresql://hub@db/hub", None),
])
def test_sqlite_file(url, path):
    assert sqlite_file(url) == path


def pragmas(engine) -> tuple[str, int]:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA journal_mode")).scalar(), conn.execute(text("PRAGMA synchronous")).scalar()


def test_only_the_configured_database_is_changed(tmp_path, caplog):
    hub_db, other_db = tmp_path / "jupyterhub.sqlite", tmp_path / "other.sqlite"
    configured = [f"sqlite:///{tmp_path / 'not-yet.sqlite'}"]
    listener = write_ahead_log(lambda: configured[0], log=logging.getLogger("test-hub-db"))
    try:
        configured[0] = f"sqlite:///{hub_db}"  # read at connect time, as later config may change it
        with caplog.at_level(logging.INFO, logger="test-hub-db"):
            assert pragmas(create_engine(f"sqlite:///{hub_db}")) == ("wal", 1)  # 1: NORMAL
            assert pragmas(create_engine(f"sqlite:///{hub_db}")) == ("wal", 1)
        assert [r.getMessage() for r in caplog.records] == [f"Hub database {hub_db}: journal_mode=wal, synchronous=NORMAL"]
        assert pragmas(create_engine(f"sqlite:///{other_db}")) == ("delete", 2)  # SQLite's defaults: DELETE, FULL
        assert pragmas(create_engine("sqlite://")) == ("memory", 2)
        # Commits land and are read back by a fresh connection (the log is part of the database).
        engine = create_engine(f"sqlite:///{hub_db}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (42)"))
        with sqlite3.connect(hub_db) as db:
            assert db.execute("SELECT x FROM t").fetchall() == [(42,)]
    finally:
        event.remove(Engine, "connect", listener)
