"""config.py — the app's settings: a `key = value` file (as sbxd's own), then
environment variables `SBXWEB_<KEY>` over it. deploy/sbx-web.conf.example
documents every key."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields

MAX_CONF_BYTES = 64 << 10


@dataclass
class Config:
    listen_host: str = "127.0.0.1"
    listen_port: int = 7480
    db: str = "/var/lib/sbx-web/sbx-web.db"
    sbx_endpoint: str = "tcp://127.0.0.1:7410"
    sbx_service_key: str = ""
    sbx_service_key_file: str = ""
    secret_key_file: str = "/var/lib/sbx-web/secret.key"
    cookie_secure: str = "auto"          # auto: Secure when the request came over https
    login_ttl_s: int = 12 * 3600
    login_fail_limit_user: int = 5       # failed sign-ins per user name per window, then 429
    login_fail_limit_addr: int = 20      # failed sign-ins per client address per window, then 429
    login_fail_window_s: float = 300.0
    forwarded_allow_ips: str = ""        # proxies whose X-Forwarded-For gives the client address
    max_upload_bytes: int = 100 << 20
    max_edit_bytes: int = 1 << 20
    chat_timeout_s: float = 300.0
    model: str = ""                      # "" = from OPENAI_API_KEY/ANTHROPIC_API_KEY, else demo
    ws_queue_events: int = 1000
    terminal_grace_s: float = 15.0       # a terminal no page holds is closed after this long
    js_dir: str = "/usr/share/javascript"
    idle_cleanup_ms: int = 30 * 60 * 1000
    sbx_user_prefix: str = "web-"        # sbx user id = prefix + app user name

    def service_key(self) -> str:
        if self.sbx_service_key:
            return self.sbx_service_key
        if self.sbx_service_key_file:
            with open(self.sbx_service_key_file) as f:
                return f.read().strip()
        raise SystemExit("sbx-web: set sbx_service_key_file (or sbx_service_key) in the config "
                         "to sbxd's service key")


def _coerce(kind: type, key: str, raw: str):
    try:
        return kind(raw)
    except ValueError:
        raise SystemExit(f"sbx-web: config key {key!r}: {raw!r} is not a {kind.__name__}")


def load(path: str | None) -> Config:
    """The config from `path` (None: defaults only) and the environment.
    Unknown keys and bad values stop the program with a message."""
    cfg = Config()
    kinds = {f.name: type(getattr(cfg, f.name)) for f in fields(cfg)}
    if path:
        with open(path) as f:
            text = f.read(MAX_CONF_BYTES + 1)
        if len(text) > MAX_CONF_BYTES:
            raise SystemExit(f"sbx-web: {path} is larger than {MAX_CONF_BYTES} bytes")
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = (s.strip() for s in line.partition("="))
            if not sep or key not in kinds:
                raise SystemExit(f"sbx-web: {path}:{n}: expected `key = value` with a known key "
                                 f"({', '.join(kinds)})")
            setattr(cfg, key, _coerce(kinds[key], key, value))
    for key, kind in kinds.items():
        v = os.environ.get("SBXWEB_" + key.upper())
        if v is not None:
            setattr(cfg, key, _coerce(kind, key, v))
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$", cfg.sbx_user_prefix):
        raise SystemExit("sbx-web: sbx_user_prefix: 1-32 of A-Z a-z 0-9 . _ - (starting with a "
                         "letter or digit)")
    if cfg.login_fail_limit_user < 1 or cfg.login_fail_limit_addr < 1 or cfg.login_fail_window_s <= 0:
        raise SystemExit("sbx-web: login_fail_limit_user and login_fail_limit_addr are at least 1, "
                         "login_fail_window_s more than 0")
    return cfg
