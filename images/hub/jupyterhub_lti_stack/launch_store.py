"""What the hub must remember of launches beyond a login: used nonces and per-(user, course)
launch records.

JupyterHub replaces a user's auth_state at every login, so a launch from course B would erase
what grade passback needs for course A (the platform and context, the AGS endpoint claim, the
LTI 1.1 outcome service URL and result sourcedid). Those are kept here per (user, course,
resource link), updated at each launch of that link and never by another course's launch. Used launch nonces
are kept until the launch expires, so a captured launch (id_token, state and the browser's
cookies, or an LTI 1.1 form) cannot be replayed, not even after a hub restart. A verified
launch whose login cookie the browser refused (an LMS iframe with third-party cookies blocked)
leaves a one-time continuation, redeemed once in a new window (frame.py).

One SQLite file on the hub's data volume (only the hub mounts it), survives redeploys. Calls
are synchronous and short; the hub runs one process.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
  scope TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at REAL NOT NULL,
  PRIMARY KEY (scope, nonce)
);
CREATE TABLE IF NOT EXISTS launches (
  username TEXT NOT NULL,
  course TEXT NOT NULL,
  link TEXT NOT NULL,             -- protocol + resource link: an LTI 1.1 sourcedid belongs to one link
  record TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (username, course, link)
);
CREATE TABLE IF NOT EXISTS lti13_identities (
  issuer TEXT NOT NULL,           -- an LTI 1.3 user is (issuer, sub): two LMSs may both have a user "5"
  subject TEXT NOT NULL,
  username TEXT NOT NULL UNIQUE,  -- normalized JupyterHub user name
  PRIMARY KEY (issuer, subject)
);
CREATE TABLE IF NOT EXISTS deep_links (
  token_hash TEXT PRIMARY KEY,    -- sha256 of the one-time token of a deep linking request
  username TEXT NOT NULL,
  course TEXT NOT NULL,
  request TEXT NOT NULL,          -- issuer, client id, deployment, return URL, data (deep_linking.py)
  expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS registration_tokens (
  token_hash TEXT PRIMARY KEY,    -- sha256 of a one-time LTI Dynamic Registration token
  expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
  registered_at REAL NOT NULL,
  entry TEXT NOT NULL             -- the lti13.platforms entry of a completed dynamic registration
);
CREATE TABLE IF NOT EXISTS continuations (
  token_hash TEXT PRIMARY KEY,    -- sha256 of a one-time token; the token itself is never stored
  username TEXT NOT NULL,
  next_url TEXT NOT NULL,
  expires_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class LaunchRecord:
    """Everything grade passback needs about one user's latest launch into one course."""

    username: str
    course: str
    protocol: str  # "lti11" | "lti13"
    user_id: str  # LTI 1.1 user_id / LTI 1.3 sub: the id the platform knows the user by
    platform: str  # LTI 1.1 consumer key / LTI 1.3 issuer
    context_id: str
    client_id: str | None = None
    deployment_id: str | None = None
    resource_link_id: str | None = None
    ags: dict | None = None  # LTI 1.3 AGS endpoint claim: lineitems, lineitem, scope
    nrps_url: str | None = None  # LTI 1.3 NRPS context membership URL (roster.py)
    outcome_service_url: str | None = None  # LTI 1.1 Basic Outcomes
    result_sourcedid: str | None = None
    custom: dict = field(default_factory=dict)


class LaunchStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self.path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    def claim_nonce(self, scope: str, nonce: str, expires_at: float, now: float | None = None) -> bool:
        """Record a launch's nonce; False if it was used before and has not expired yet."""
        now = time.time() if now is None else now
        with self._db:
            self._db.execute("DELETE FROM nonces WHERE expires_at < ?", (now,))
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO nonces (scope, nonce, expires_at) VALUES (?, ?, ?)",
                (scope, nonce, max(expires_at, now)),
            )
            return cursor.rowcount == 1

    def record_launch(self, record: LaunchRecord, now: float | None = None) -> None:
        now = time.time() if now is None else now
        link = f"{record.protocol}:{record.resource_link_id or ''}"
        with self._db:
            self._db.execute(
                "INSERT INTO launches (username, course, link, record, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (username, course, link) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at",
                (record.username, record.course, link, json.dumps(asdict(record), sort_keys=True), now),
            )

    def launch_records(self, username: str, course: str) -> list[LaunchRecord]:
        """The user's launch records of the course, one per link, the latest first."""
        rows = self._db.execute(
            "SELECT record FROM launches WHERE username = ? AND course = ? ORDER BY updated_at DESC, link",
            (username, course),
        )
        return [LaunchRecord(**json.loads(r[0])) for r in rows]

    def launch(self, username: str, course: str) -> LaunchRecord | None:
        """The user's latest launch of the course."""
        records = self.launch_records(username, course)
        return records[0] if records else None

    def launches(self, course: str) -> list[LaunchRecord]:
        rows = self._db.execute("SELECT record FROM launches WHERE course = ? ORDER BY username, link", (course,))
        return [LaunchRecord(**json.loads(r[0])) for r in rows]

    def roster_source(self, course: str) -> LaunchRecord | None:
        """The course's latest LTI 1.3 launch that carried a names and roles service (roster.py)."""
        rows = self._db.execute("SELECT record FROM launches WHERE course = ? ORDER BY updated_at DESC, username, link", (course,))
        for (text,) in rows:
            record = LaunchRecord(**json.loads(text))
            if record.protocol == "lti13" and record.nrps_url:
                return record
        return None

    def lti13_username(self, issuer: str, subject: str, primary: bool, normalize=str.lower) -> str:
        """The hub user of an LTI 1.3 identity, the same at every launch. The primary platform's
        users are named by their ``sub`` (as before several platforms were possible, so existing
        users keep their servers and homes); another platform's by ``<sub>-<8 hex of the issuer>``;
        a name another identity holds already gets a longer suffix. Never two identities, one user."""
        with self._db:
            row = self._db.execute(
                "SELECT username FROM lti13_identities WHERE issuer = ? AND subject = ?", (issuer, subject)
            ).fetchone()
            if row is not None:
                return row[0]
            digest = hashlib.sha256(issuer.encode("utf-8", "surrogatepass")).hexdigest()
            candidates = ([normalize(subject)] if primary else []) + [
                normalize(f"{subject}-{digest[:n]}") for n in (8, 16, 64)
            ]
            for name in candidates:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO lti13_identities (issuer, subject, username) VALUES (?, ?, ?)",
                    (issuer, subject, name),
                )
                if cursor.rowcount == 1:
                    return name
        raise ValueError(f"no free user name for LTI 1.3 user {subject!r} of {issuer}")

    def issue_deep_link(self, username: str, course: str, request: dict, ttl: float, now: float | None = None) -> str:
        """A one-time token for an instructor's pending deep linking request."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self._db:
            self._db.execute("DELETE FROM deep_links WHERE expires_at < ?", (now,))
            self._db.execute(
                "INSERT INTO deep_links (token_hash, username, course, request, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_token_hash(token), username, course, json.dumps(request, sort_keys=True), now + ttl),
            )
        return token

    def redeem_deep_link(self, token: str, now: float | None = None) -> tuple[str, str, dict] | None:
        """(username, course, request) of an unexpired, unused deep linking token, used up by this call."""
        now = time.time() if now is None else now
        with self._db:
            row = self._db.execute(
                "DELETE FROM deep_links WHERE token_hash = ? RETURNING username, course, request, expires_at",
                (_token_hash(token),),
            ).fetchone()
        if row is None or row[3] < now:
            return None
        return row[0], row[1], json.loads(row[2])

    def issue_registration_token(self, ttl: float, now: float | None = None) -> str:
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self._db:
            self._db.execute("DELETE FROM registration_tokens WHERE expires_at < ?", (now,))
            self._db.execute("INSERT INTO registration_tokens (token_hash, expires_at) VALUES (?, ?)", (_token_hash(token), now + ttl))
        return token

    def registration_token_valid(self, token: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        row = self._db.execute("SELECT expires_at FROM registration_tokens WHERE token_hash = ?", (_token_hash(token),)).fetchone()
        return row is not None and row[0] >= now

    def use_registration_token(self, token: str, entry: dict, now: float | None = None) -> bool:
        """Use up a valid token for a completed registration, which is kept; False if it was not valid."""
        now = time.time() if now is None else now
        with self._db:
            row = self._db.execute(
                "DELETE FROM registration_tokens WHERE token_hash = ? RETURNING expires_at", (_token_hash(token),)
            ).fetchone()
            if row is None or row[0] < now:
                return False
            self._db.execute("INSERT INTO registrations (registered_at, entry) VALUES (?, ?)", (now, json.dumps(entry)))
        return True

    def registrations(self) -> list[tuple[float, dict]]:
        rows = self._db.execute("SELECT registered_at, entry FROM registrations ORDER BY registered_at")
        return [(r[0], json.loads(r[1])) for r in rows]

    def issue_continuation(self, username: str, next_url: str, ttl: float, now: float | None = None) -> str:
        """A one-time token that logs ``username`` in once and leads to ``next_url``."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        with self._db:
            self._db.execute("DELETE FROM continuations WHERE expires_at < ?", (now,))
            self._db.execute(
                "INSERT INTO continuations (token_hash, username, next_url, expires_at) VALUES (?, ?, ?, ?)",
                (_token_hash(token), username, next_url, now + ttl),
            )
        return token

    def redeem_continuation(self, token: str, now: float | None = None) -> tuple[str, str] | None:
        """(username, next_url) of an unexpired, unused continuation, which is used up by this call."""
        now = time.time() if now is None else now
        with self._db:
            row = self._db.execute(
                "DELETE FROM continuations WHERE token_hash = ? RETURNING username, next_url, expires_at",
                (_token_hash(token),),
            ).fetchone()
        if row is None or row[2] < now:
            return None
        return row[0], row[1]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
