"""The hub side of strict collect: the username -> uid map written before each spawn."""

from __future__ import annotations

import json
import os
import stat

from jupyterhub_lti_stack.uidmap import UID_MAP_FILE, record_uid


def _map(directory) -> dict:
    return json.loads((directory / UID_MAP_FILE).read_text())


def test_records_uids_atomically_with_fixed_modes(tmp_path):
    uids = tmp_path / "uids"
    assert record_uid(str(uids), "alice", 20004)
    assert record_uid(str(uids), "bob", 20005)
    assert _map(uids) == {"alice": 20004, "bob": 20005}
    assert stat.S_IMODE(os.stat(uids).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(uids / UID_MAP_FILE).st_mode) == 0o644
    assert os.listdir(uids) == [UID_MAP_FILE], "no temp file left behind"


def test_unchanged_entry_does_not_rewrite(tmp_path):
    assert record_uid(str(tmp_path), "alice", 20004)
    inode = os.stat(tmp_path / UID_MAP_FILE).st_ino
    assert not record_uid(str(tmp_path), "alice", 20004)
    assert os.stat(tmp_path / UID_MAP_FILE).st_ino == inode


def test_loose_modes_are_repaired(tmp_path):
    record_uid(str(tmp_path), "alice", 20004)
    os.chmod(tmp_path / UID_MAP_FILE, 0o666)
    os.chmod(tmp_path, 0o777)
    assert record_uid(str(tmp_path), "alice", 20004)
    assert stat.S_IMODE(os.stat(tmp_path / UID_MAP_FILE).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755


def test_a_uid_belongs_to_one_name_only(tmp_path):
    """A reused hub user id must not leave the old name pointing at the new user's uid."""
    record_uid(str(tmp_path), "gone", 20007)
    record_uid(str(tmp_path), "alice", 20004)
    record_uid(str(tmp_path), "newcomer", 20007)
    assert _map(tmp_path) == {"alice": 20004, "newcomer": 20007}
    record_uid(str(tmp_path), "alice", 20009)  # a recreated user gets a new id
    assert _map(tmp_path) == {"alice": 20009, "newcomer": 20007}


def test_odd_usernames_are_only_keys(tmp_path):
    for i, name in enumerate(["..x", ".hidden", "a+b", "uids.json", "ünï cödé"]):
        record_uid(str(tmp_path), name, 20100 + i)
    assert len(_map(tmp_path)) == 5
    assert os.listdir(tmp_path) == [UID_MAP_FILE]


def test_spawner_records_its_users_uid(tmp_path):
    """What every spawn does before the server starts (the hub tier checks real spawns)."""
    from jupyterhub_lti_stack.spawner import CourseSpawnerMixin

    class Spawner(CourseSpawnerMixin):
        user = type("User", (), {"name": "carol", "id": 7})()
        nb_uid = 20007

    assert CourseSpawnerMixin.uid_map_dir.default_value == "/srv/jupyterhub/uids"
    Spawner(uid_map_dir=str(tmp_path / "uids")).record_uid()
    assert _map(tmp_path / "uids") == {"carol": 20007}
