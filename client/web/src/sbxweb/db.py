"""db.py — the app's own SQLite file: users, sign-in sessions, which sandbox
(sbx session) belongs to which user with its session token, and chat history.

One connection, used from the event loop's thread only (each statement is a
few microseconds on a local file); WAL so a second process (the CLI making a
user) can write beside the server. Schema versions are applied in order by
`migrate` and recorded in `PRAGMA user_version`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

SCHEMA = [
    # 1
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        pw_hash TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE logins (
        id_hash TEXT PRIMARY KEY,          -- sha256 of the cookie's random id
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE TABLE sandboxes (
        sid TEXT PRIMARY KEY,              -- the sbx session id
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token TEXT NOT NULL,               -- its session token (given to the agent only)
        runtime TEXT NOT NULL,
        title TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        ended INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sandboxes_user ON sandboxes(user_id);
    CREATE TABLE chat (
        id INTEGER PRIMARY KEY,
        sid TEXT NOT NULL REFERENCES sandboxes(sid) ON DELETE CASCADE,
        kind TEXT NOT NULL,                -- user, text, tool-call, tool-result, error, note
        body TEXT NOT NULL,                -- JSON
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX chat_sid ON chat(sid, id);
    CREATE TABLE agent_history (
        sid TEXT PRIMARY KEY REFERENCES sandboxes(sid) ON DELETE CASCADE,
        messages TEXT NOT NULL             -- pydantic-ai's ModelMessagesTypeAdapter JSON
    );
    """,
]


def now_ms() -> int:
    return int(time.time() * 1000)


class Db:
    def __init__(self, path: str) -> None:
        # password hashes and session tokens: readable by the app's user alone
        # (SQLite gives its -wal and -shm files the same mode)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.c = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.c.row_factory = sqlite3.Row
        self.c.execute("PRAGMA journal_mode=WAL")
        self.c.execute("PRAGMA foreign_keys=ON")
        self.c.execute("PRAGMA busy_timeout=5000")
        # WAL: durable at checkpoints, no fsync per chat event
        self.c.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    def migrate(self) -> None:
        have = self.c.execute("PRAGMA user_version").fetchone()[0]
        for n, sql in enumerate(SCHEMA[have:], have + 1):
            self.c.executescript(f"BEGIN IMMEDIATE;{sql};PRAGMA user_version={n};COMMIT;")

    def close(self) -> None:
        self.c.close()

    # ------------------------------------------------------------ users

    def add_user(self, name: str, pw_hash: str, is_admin: bool) -> int:
        cur = self.c.execute("INSERT INTO users(name, pw_hash, is_admin, created_ms) "
                             "VALUES (?,?,?,?)", (name, pw_hash, int(is_admin), now_ms()))
        return cur.lastrowid

    def set_password(self, name: str, pw_hash: str) -> bool:
        return self.c.execute("UPDATE users SET pw_hash=? WHERE name=?",
                              (pw_hash, name)).rowcount == 1

    def user_by_name(self, name: str) -> sqlite3.Row | None:
        return self.c.execute("SELECT * FROM users WHERE name=?", (name,)).fetchone()

    def user_by_id(self, uid: int) -> sqlite3.Row | None:
        return self.c.execute("SELECT * FROM users WHERE id=?", (uid,)).fetchone()

    def users(self) -> list[sqlite3.Row]:
        return self.c.execute("SELECT * FROM users ORDER BY name").fetchall()

    # ------------------------------------------------------------ sign-in sessions

    def add_login(self, id_hash: str, uid: int, csrf: str, ttl_ms: int) -> None:
        self.c.execute("DELETE FROM logins WHERE expires_ms < ?", (now_ms(),))
        self.c.execute("INSERT INTO logins VALUES (?,?,?,?)",
                       (id_hash, uid, csrf, now_ms() + ttl_ms))

    def login(self, id_hash: str) -> sqlite3.Row | None:
        return self.c.execute(
            "SELECT logins.csrf, users.* FROM logins JOIN users ON users.id = logins.user_id "
            "WHERE id_hash=? AND expires_ms >= ?", (id_hash, now_ms())).fetchone()

    def drop_login(self, id_hash: str) -> None:
        self.c.execute("DELETE FROM logins WHERE id_hash=?", (id_hash,))

    # ------------------------------------------------------------ sandboxes

    def add_sandbox(self, sid: str, uid: int, token: str, runtime: str, title: str) -> None:
        self.c.execute("INSERT INTO sandboxes(sid, user_id, token, runtime, title, created_ms) "
                       "VALUES (?,?,?,?,?,?)", (sid, uid, token, runtime, title, now_ms()))

    def sandbox_of(self, sid: str, uid: int) -> sqlite3.Row | None:
        """The sandbox `sid` when it belongs to user `uid`, else None (whoever else owns it)."""
        return self.c.execute("SELECT * FROM sandboxes WHERE sid=? AND user_id=?",
                              (sid, uid)).fetchone()

    def sandboxes_of(self, uid: int) -> list[sqlite3.Row]:
        return self.c.execute("SELECT * FROM sandboxes WHERE user_id=? ORDER BY created_ms DESC",
                              (uid,)).fetchall()

    def all_sandboxes(self) -> dict[str, sqlite3.Row]:
        rows = self.c.execute("SELECT sandboxes.*, users.name AS user_name FROM sandboxes "
                              "JOIN users ON users.id = sandboxes.user_id").fetchall()
        return {r["sid"]: r for r in rows}

    def set_token(self, sid: str, token: str) -> None:
        self.c.execute("UPDATE sandboxes SET token=? WHERE sid=?", (token, sid))

    def mark_ended(self, sid: str) -> None:
        self.c.execute("UPDATE sandboxes SET ended=1 WHERE sid=?", (sid,))

    # ------------------------------------------------------------ chat

    def add_chat(self, sid: str, kind: str, body: dict) -> int:
        return self.c.execute("INSERT INTO chat(sid, kind, body, created_ms) VALUES (?,?,?,?)",
                              (sid, kind, json.dumps(body), now_ms())).lastrowid

    def chat(self, sid: str, limit: int = 500) -> list[dict]:
        rows = self.c.execute("SELECT * FROM (SELECT * FROM chat WHERE sid=? ORDER BY id DESC "
                              "LIMIT ?) ORDER BY id", (sid, limit)).fetchall()
        return [{"kind": r["kind"], **json.loads(r["body"])} for r in rows]

    def agent_history(self, sid: str) -> str | None:
        r = self.c.execute("SELECT messages FROM agent_history WHERE sid=?", (sid,)).fetchone()
        return r["messages"] if r else None

    def set_agent_history(self, sid: str, messages: str) -> None:
        self.c.execute("INSERT INTO agent_history VALUES (?, ?) ON CONFLICT(sid) DO UPDATE "
                       "SET messages=excluded.messages", (sid, messages))
