"""auth.py — passwords, sign-in cookies and CSRF tokens.

Passwords: Argon2id hashes (argon2-cffi). A sign-in makes a random id; the
cookie carries it signed (itsdangerous, key from the app's secret file) and
the database keeps only its SHA-256, with the user, an expiry and the
session's CSRF token. Cookies are HTTP-only, SameSite=Strict, Secure over
https. Every state-changing request carries the CSRF token (header
`X-CSRF-Token` from scripts, field `csrf` from forms), compared in constant
time. The sign-in form itself is guarded by a double-submit token (a signed
cookie and the same value in the form).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, Signer

from .db import Db

COOKIE = "sbxweb_session"
LOGIN_COOKIE = "sbxweb_login"
DEVICE_COOKIE = "sbxweb_device"     # this browser signed in as NAME before (throttle.py)
DEVICE_TTL_S = 365 * 24 * 3600
USER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

_ph = PasswordHasher()
# verifying against this keeps an unknown user's sign-in as slow as a known one's
_DUMMY_HASH = _ph.hash(secrets.token_hex(16))


def hash_password(pw: str) -> str:
    if not (MIN_PASSWORD <= len(pw) <= MAX_PASSWORD):
        raise ValueError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return _ph.hash(pw)


def check_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise ValueError("a user name is 1-32 of a-z 0-9 _ - starting with a letter")
    return name


def verify(db: Db, name: str, pw: str):
    """The user row when `pw` is `name`'s password, else None."""
    row = db.user_by_name(name) if USER_NAME.match(name) else None
    try:
        _ph.verify(row["pw_hash"] if row else _DUMMY_HASH, pw[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    return row


def load_secret(path: str) -> bytes:
    """The signing key in `path`, made (32 random bytes, mode 0600) when missing."""
    try:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def _id_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Cookies:
    def __init__(self, secret: bytes) -> None:
        self._signer = Signer(secret, salt="sbxweb-cookie")
        self._device = Signer(secret, salt="sbxweb-device")

    def new_device(self, name: str) -> str:
        """A device cookie value: this browser signed in as `name`."""
        return self._device.sign(f"{name}:{secrets.token_urlsafe(16)}").decode()

    def device(self, value: str | None, name: str) -> str | None:
        """The nonce of a genuine device cookie for `name`, else None."""
        if not value or len(value) > 256:
            return None
        try:
            who, _, nonce = self._device.unsign(value).decode().partition(":")
        except BadSignature:
            return None
        return nonce if nonce and hmac.compare_digest(who.encode(), name.encode()) else None

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode()

    def unsign(self, value: str | None) -> str | None:
        if not value or len(value) > 256:
            return None
        try:
            return self._signer.unsign(value).decode()
        except BadSignature:
            return None

    def new_login(self, db: Db, uid: int, ttl_s: int) -> str:
        """Records a sign-in for `uid`; returns the cookie value."""
        raw = secrets.token_urlsafe(32)
        db.add_login(_id_hash(raw), uid, secrets.token_urlsafe(32), ttl_s * 1000)
        return self.sign(raw)

    def current(self, db: Db, cookie: str | None):
        """The signed-in user (a row with `csrf`) for a cookie value, or None
        (absent, forged, expired or signed out)."""
        raw = self.unsign(cookie)
        return db.login(_id_hash(raw)) if raw else None

    def end(self, db: Db, cookie: str | None) -> None:
        raw = self.unsign(cookie)
        if raw:
            db.drop_login(_id_hash(raw))


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())
