"""cli.py — `sbx-web`: run the server, make users.

  sbx-web [--config FILE] serve
  sbx-web [--config FILE] create-user NAME [--admin]   (password from stdin or a prompt)
  sbx-web [--config FILE] set-password NAME
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sqlite3
import sys

from . import auth
from .config import load
from .db import Db

DEFAULT_CONFIG = "/etc/sbx/sbx-web.conf"


def _password() -> str:
    if sys.stdin.isatty():
        pw = getpass.getpass("password: ")
        if getpass.getpass("again: ") != pw:
            raise SystemExit("sbx-web: the passwords differ")
        return pw
    return sys.stdin.readline().rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sbx-web", description="the sbx web app")
    ap.add_argument("--config", default=None,
                    help=f"config file (default {DEFAULT_CONFIG} when it exists)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve", help="run the web server")
    cu = sub.add_parser("create-user", help="add a user (password read from stdin or asked)")
    cu.add_argument("name")
    cu.add_argument("--admin", action="store_true", help="may see and end every session")
    sp = sub.add_parser("set-password", help="change a user's password")
    sp.add_argument("name")
    a = ap.parse_args(argv)
    path = a.config
    if path is None:
        import os
        path = DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None
    cfg = load(path)

    if a.cmd == "serve":
        import uvicorn
        from .app import create_app
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        uvicorn.run(create_app(cfg), host=cfg.listen_host, port=cfg.listen_port,
                    log_level="info", ws_max_size=1 << 20,
                    proxy_headers=bool(cfg.forwarded_allow_ips),
                    forwarded_allow_ips=cfg.forwarded_allow_ips or None)
        return 0
    try:
        name = auth.check_name(a.name)
        pw_hash = auth.hash_password(_password())
    except ValueError as e:
        raise SystemExit(f"sbx-web: {e}")
    db = Db(cfg.db)
    if a.cmd == "create-user":
        try:
            db.add_user(name, pw_hash, a.admin)
        except sqlite3.IntegrityError:
            raise SystemExit(f"sbx-web: user {name!r} exists (set-password changes a password)")
        print(f"user {name} created{' (admin)' if a.admin else ''}")
    elif not db.set_password(name, pw_hash):
        raise SystemExit(f"sbx-web: no user {name!r}")
    else:
        print(f"password of {name} changed")
    db.close()
    _give_to_dir_owner(cfg.db)
    return 0


def _give_to_dir_owner(path: str) -> None:
    """Run as root (sudo sbx-web create-user), leaves the database files to the
    owner of their directory (the service's user), so the service can write them."""
    import os
    if os.geteuid() != 0:
        return
    st = os.stat(os.path.dirname(os.path.abspath(path)))
    for f in (path, path + "-wal", path + "-shm"):
        if os.path.exists(f):
            os.chown(f, st.st_uid, st.st_gid)


if __name__ == "__main__":
    sys.exit(main())
