"""The grader side of strict collect (images/notebook/jhlti_nbgrader.py): a submission folder
counts only if it is owned by the uid the hub recorded for the student it names."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import jhlti_nbgrader as strict  # images/notebook, on sys.path from conftest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory
from traitlets.config import PyFileConfigLoader

GRADER_CONFIG = Path(strict.__file__).parent / "grader-config" / "nbgrader_config.py"

ALICE, BOB = 20004, 20005
UIDS = {"alice": ALICE, "bob": BOB}
# Folders owned by other uids need root (the test tier runs as root in CI and the dev container).
needs_root = pytest.mark.skipif(os.getuid() != 0, reason="chown to students' uids needs root")
LOG = logging.getLogger("test-strict-collect")


def stamp(year: int) -> str:
    return f"{year}-01-01 00:00:00.000000 UTC"


def submit(inbound: Path, student: str, year: int, answer: str = "x", suffix: str = "r", owner: int | None = None) -> str:
    """A submission folder named for ``student``, owned by ``owner`` (default: that student)."""
    name = f"{student}+ps1+{stamp(year)}+{suffix}"
    (inbound / name).mkdir(parents=True)
    (inbound / name / "ps1.ipynb").write_text(answer)
    (inbound / name / "timestamp.txt").write_text(stamp(year))  # as nbgrader submit writes it
    if os.getuid() == 0:
        os.lchown(inbound / name, UIDS.get(student, 20099) if owner is None else owner, -1)
    return name


def record(name: str) -> dict:
    student, _, when, _ = name.rsplit("+", 3)
    return {"username": student, "filename": name,
            "timestamp": datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=timezone.utc)}


@needs_root
def test_forged_newer_folder_is_rejected_and_the_genuine_one_chosen(tmp_path, caplog):
    inbound = tmp_path / "inbound"
    genuine_bob = submit(inbound, "bob", 2026)
    forged = submit(inbound, "bob", 2099, suffix="planted", owner=ALICE)
    alice = submit(inbound, "alice", 2027)
    with caplog.at_level(logging.ERROR):
        kept = strict.genuine([record(n) for n in sorted(os.listdir(inbound))], str(inbound), UIDS, LOG)
    assert sorted(r["filename"] for r in strict.select(kept)) == sorted([genuine_bob, alice])
    assert caplog.text.count("Not collecting") == 1
    assert (f"Not collecting {inbound / forged}: it claims to be submitted by bob (uid {BOB}) "
            f"but is owned by uid {ALICE}; forged submission rejected") in caplog.text


@needs_root
def test_symlinks_files_and_unknown_students_are_rejected(tmp_path, caplog):
    inbound = tmp_path / "inbound"
    real = submit(inbound, "alice", 2026)
    link, file = inbound / f"alice+ps1+{stamp(2098)}+link", inbound / f"alice+ps1+{stamp(2097)}+file"
    link.symlink_to(inbound / real)
    file.write_text("not a folder")
    os.lchown(link, ALICE, -1)
    os.lchown(file, ALICE, -1)
    submit(inbound, "mallory", 2099)
    with caplog.at_level(logging.ERROR):
        kept = strict.genuine([record(n) for n in sorted(os.listdir(inbound))], str(inbound), UIDS, LOG)
    assert [r["filename"] for r in kept] == [real]
    assert "a symlink or file" in caplog.text and "mallory, who has no uid in the uid map" in caplog.text
    assert caplog.text.count("Not collecting") == 3


def test_select_is_nbgraders_choice():
    names = [f"bob+ps1+{stamp(y)}+r" for y in (2024, 2026, 2025)] + [f"alice+ps1+{stamp(2020)}+r"]
    records = [record(n) for n in names]
    newest = {r["username"]: r["timestamp"].year for r in strict.select(records)}
    assert newest == {"bob": 2026, "alice": 2020}
    due = datetime(2025, 6, 1, tzinfo=timezone.utc)
    in_time = {r["username"]: r["timestamp"].year for r in strict.select(records, due, before_duedate=True)}
    assert in_time == {"bob": 2025, "alice": 2020}


@pytest.mark.parametrize("content", [None, "not json", "[]", '{"bob": "20005"}', '{"bob": true}'])
def test_bad_or_missing_map_is_an_error(tmp_path, content):
    path = tmp_path / "uids.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(strict.UidMapError):
        strict.load_uid_map(str(path))


def grader_config():
    return PyFileConfigLoader(GRADER_CONFIG.name, str(GRADER_CONFIG.parent)).load_config()


@pytest.fixture(autouse=True)
def _alembic_on_path(monkeypatch):
    """nbgrader creates the gradebook by running alembic from PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def _collect(tmp_path, uid_map: Path) -> strict.StrictCollect:
    """The collect class the grader's config selects, configured by that config."""
    course = tmp_path / "course"
    course.mkdir(exist_ok=True)
    config = grader_config()
    config.StrictCollect.uid_map = str(uid_map)
    config.Exchange.root = str(tmp_path / "exchange")
    coursedir = CourseDirectory(root=str(course), course_id="c1", assignment_id="ps1")
    factory = ExchangeFactory(config=config)
    assert factory.collect is strict.StrictCollect
    return factory.Collect(coursedir=coursedir, authenticator=Authenticator(), config=config)


@needs_root
def test_nbgrader_collect_with_the_strict_class(tmp_path, caplog):
    """The real collect path (ExchangeCollect.start) with the subclass nbgrader's config selects."""
    inbound = tmp_path / "exchange" / "c1" / "inbound"
    submit(inbound, "alice", 2026, answer="alice's own")
    submit(inbound, "bob", 2026, answer="bob's own")
    forged = submit(inbound, "bob", 2099, answer="alice's, in bob's name", owner=ALICE)
    uid_map = tmp_path / "uids.json"
    uid_map.write_text(json.dumps(UIDS))
    with caplog.at_level(logging.INFO):
        _collect(tmp_path, uid_map).start()
    submitted = tmp_path / "course" / "submitted"
    assert (submitted / "alice" / "ps1" / "ps1.ipynb").read_text() == "alice's own"
    assert (submitted / "bob" / "ps1" / "ps1.ipynb").read_text() == "bob's own"
    assert (submitted / "bob" / "ps1" / "timestamp.txt").read_text().startswith("2026-01-01")
    assert f"Not collecting {inbound / forged}" in caplog.text
    assert "cheating attempt" not in caplog.text, "nbgrader's own owner warning is replaced"


def test_nbgrader_collect_refuses_without_a_map(tmp_path, caplog):
    submit(tmp_path / "exchange" / "c1" / "inbound", "alice", 2026)
    with pytest.raises(ExchangeError, match="Refusing to collect"):
        _collect(tmp_path, tmp_path / "missing.json").start()
    assert not (tmp_path / "course" / "submitted").exists()


def test_grader_config_selects_it():
    config = grader_config()
    assert config.ExchangeFactory.collect == "jhlti_nbgrader.StrictCollect"
    assert "uid_map" not in config.StrictCollect  # the default comes from the contract:
    assert strict.StrictCollect().uid_map == "/srv/nbgrader/uids/uids.json"
    assert config.ExchangeCollect.check_owner is False


@needs_root
def test_control_stock_collect_takes_the_forgery(tmp_path):
    """The bug strict collect fixes: nbgrader's own collect files alice's folder as bob's."""
    inbound = tmp_path / "exchange" / "c1" / "inbound"
    submit(inbound, "bob", 2026, answer="bob's own")
    submit(inbound, "bob", 2099, answer="alice's, in bob's name", owner=ALICE)
    course = tmp_path / "course"
    course.mkdir()
    coursedir = CourseDirectory(root=str(course), course_id="c1", assignment_id="ps1")
    stock = ExchangeFactory().Collect(coursedir=coursedir, authenticator=Authenticator(), root=str(tmp_path / "exchange"))
    assert type(stock) is not strict.StrictCollect
    stock.start()
    assert (course / "submitted" / "bob" / "ps1" / "ps1.ipynb").read_text() == "alice's, in bob's name"
