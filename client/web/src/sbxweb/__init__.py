"""sbxweb — the multi-user web app on sbx.

Users sign in (accounts in the app's own SQLite file, made with `sbx-web
create-user`), list and open their sandboxes (sbx sessions), chat with a
pydantic-ai agent working in the sandbox, browse and edit its files, and watch
its output live over one WebSocket per page (with a terminal pane). The app
holds sbxd's service key; the browser never sees a key or a session token.
"""
