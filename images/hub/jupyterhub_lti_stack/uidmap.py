"""The username -> uid map the course graders read (images/CONTRACT.md).

nbgrader files a submission under the student's *name*, and the exchange inbound is
writable by every student, so a grader must check that a submission folder is owned by the
uid of the student it names. The hub is the only place that knows both: it records each
user's uid here before their server starts. The directory is a volume mounted read-write in
the hub, read-only in the graders, and never in user servers.
"""

from __future__ import annotations

import json
import os
import tempfile

from .contract import PATHS

UID_MAP_FILE = PATHS["uid_map_file"]


def record_uid(directory: str, username: str, uid: int) -> bool:
    """Set ``username``'s uid in ``directory``/uids.json (a JSON object username -> uid),
    replaced atomically (temp file + rename), mode 0644 in a 0755 directory. Any other name
    holding the same uid is dropped: a uid belongs to one user only. Returns whether the file
    changed. Synchronous on purpose: the hub runs one process, so updates never interleave."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    os.chmod(directory, 0o755)
    path = os.path.join(directory, UID_MAP_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            current = json.load(f)
    except FileNotFoundError:
        current = {}
    if not isinstance(current, dict):
        raise ValueError(f"{path} is not a JSON object")
    updated = {name: value for name, value in current.items() if value != uid or name == username}
    updated[username] = uid
    if updated == current and os.stat(path).st_mode & 0o777 == 0o644:
        return False
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{UID_MAP_FILE}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(updated, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True
