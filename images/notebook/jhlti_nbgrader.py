"""Strict ``nbgrader collect`` for the course graders (images/CONTRACT.md).

The exchange inbound is writable by every student and nbgrader files a submission under the
student *name* in its folder name, so any student can plant ``bob+ps1+<later time>+x`` and
nbgrader's collect would take it as bob's newest submission (its ``check_owner`` only warns).
Here a submission counts only if its folder (not a symlink) is owned by the uid the hub
recorded for the named student in the uid map (a JSON object username -> uid, on a volume
the graders mount read-only). Forgeries are logged as errors and skipped, so the student's
genuine older submission is collected instead. Without a readable map nothing is collected.

Selected by the graders' own nbgrader config: ``c.ExchangeFactory.collect``.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import stat

from nbgrader.exchange.default.collect import ExchangeCollect, groupby
from traitlets import Unicode, default

# The contract shared with the constructs (generated from constructs/contract.ts).
CONTRACT_FILE = os.environ.get("JHLTI_CONTRACT_FILE", "/usr/local/share/jhlti/contract.json")


def contract() -> dict:
    with open(CONTRACT_FILE, encoding="utf-8") as f:
        return json.load(f)


def uid_map_path() -> str:
    paths = contract()["paths"]
    return os.path.join(paths["grader_uid_map_dir"], paths["uid_map_file"])


class UidMapError(Exception):
    pass


def load_uid_map(path: str) -> dict[str, int]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise UidMapError(f"cannot read the uid map {path}: {e}") from e
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and type(v) is int and v > 0 for k, v in data.items()
    ):
        raise UidMapError(f"the uid map {path} is not a JSON object of user names to uids")
    return data


def rejection(path: str, student: str, uids: dict[str, int]) -> str | None:
    """Why the submission folder ``path`` is not ``student``'s own, or None if it is."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return f"Not collecting {path}: {e}"
    expected = uids.get(student)
    if expected is None:
        return (f"Not collecting {path}: it claims to be submitted by {student}, who has no uid in "
                f"the uid map (owned by uid {st.st_uid}); rejected")
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return (f"Not collecting {path}: it claims to be submitted by {student} (uid {expected}) but "
                f"is not a directory (a symlink or file owned by uid {st.st_uid}); forged submission rejected")
    if st.st_uid != expected:
        return (f"Not collecting {path}: it claims to be submitted by {student} (uid {expected}) but "
                f"is owned by uid {st.st_uid}; forged submission rejected")
    return None


def genuine(records: list[dict], inbound: str, uids: dict[str, int], log: logging.Logger) -> list[dict]:
    """The records (nbgrader's: username, filename, timestamp) whose folder in ``inbound`` is
    owned by the named student's uid; every other one is logged as an error."""
    result = []
    for record in records:
        reason = rejection(os.path.join(inbound, record["filename"]), record["username"], uids)
        if reason is None:
            result.append(record)
        else:
            log.error(reason)
    return result


def select(records: list[dict], duedate=None, before_duedate: bool = False) -> list[dict]:
    """nbgrader's choice among (already verified) records: the newest per student, or with
    ``before_duedate`` the newest before the due date when there is one."""
    chosen = []
    for group in groupby(records, lambda r: r["username"]).values():
        newest_first = sorted(group, key=lambda r: r["timestamp"], reverse=True)
        if duedate is not None and before_duedate:
            in_time = [r for r in newest_first if r["timestamp"] <= duedate]
            chosen.append((in_time or newest_first)[0])
        else:
            chosen.append(newest_first[0])
    return chosen


class StrictCollect(ExchangeCollect):
    uid_map = Unicode(help="The hub's username -> uid map (JSON); default from the contract").tag(config=True)

    @default("uid_map")
    def _default_uid_map(self) -> str:
        return uid_map_path()

    def init_src(self):
        try:
            self._uids = load_uid_map(self.uid_map)
        except UidMapError as e:
            self.fail(f"{e}. Refusing to collect: without it a submission's owner cannot be checked.")
        super().init_src()  # checks the inbound, sets inbound_path and duedate
        student = self.coursedir.student_id or "*"
        pattern = os.path.join(self.inbound_path, f"{student}+{self.coursedir.assignment_id}+*")
        records = [self._path_to_record(f) for f in glob.glob(pattern)]
        self.src_records = select(genuine(records, self.inbound_path, self._uids, self.log),
                                  self.duedate, self.before_duedate)

    def do_copy(self, src, dest):
        # Once more right before copying: the folder may have been replaced since init_src.
        student = os.path.basename(src).rsplit("+", 3)[0]
        reason = rejection(src, student, self._uids)
        if reason is not None:
            self.fail(reason)
        super().do_copy(src, dest)
