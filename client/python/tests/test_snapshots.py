"""test_snapshots.py — snapshots, forks and restores through the Python client.

Against the real sbxd: a snapshot keeps the workspace, a fork (create_session
from_snapshot) starts from it and then goes its own way, restore_session
brings deleted files back, a session token reaches only its own user's
snapshots, and bad names are refused.
"""

from __future__ import annotations

import pytest

from sbx import Client, InvalidArgument, NotFound, PermissionDenied, pb

from .conftest import new_user


def test_snapshot_fork_restore(client, sbxd):
    user = new_user()
    s = client.create_session(user).session
    try:
        client.write(s.session_id, "notes/a.txt", b"before\x00\xff")
        snap = client.snapshot(s.session_id, name="first", labels={"k": "v"}).snapshot
        assert snap.snapshot_id.startswith("snap-") and snap.name == "first"
        assert snap.user_id == user and snap.session_id == s.session_id
        assert list(snap.kept) == ["workspace"]          # read-only root: no layer
        assert snap.workspace_bytes == 8 and snap.frozen_ms >= 0
        assert [(x.key, x.value) for x in snap.labels] == [("k", "v")]
        got = client.get_snapshot(snap.snapshot_id).snapshot
        assert got.created_unix_ms == snap.created_unix_ms
        assert [x.snapshot_id for x in client.list_snapshots(user_id=user).snapshots] \
            == [snap.snapshot_id]

        fork = client.create_session(user, from_snapshot=snap.snapshot_id).session
        try:
            assert client.read_bytes(fork.session_id, "notes/a.txt").data == b"before\x00\xff"
            client.write(fork.session_id, "notes/a.txt", b"fork")
            assert client.read_bytes(s.session_id, "notes/a.txt").data == b"before\x00\xff"
        finally:
            client.end_session(fork.session_id, purge=True)

        client.remove(s.session_id, "notes", recursive=True)
        r = client.restore_session(s.session_id, snap.snapshot_id).session
        assert r.state == pb.SESSION_STATE_RUNNING
        assert client.read_bytes(s.session_id, "notes/a.txt").data == b"before\x00\xff"

        with pytest.raises(InvalidArgument):
            client.snapshot(s.session_id, name="../up")
        other = client.create_session(new_user())
        try:
            with Client(sbxd.endpoint, session_token=other.session_token) as tc:
                assert list(tc.list_snapshots().snapshots) == []
                with pytest.raises(PermissionDenied):
                    tc.get_snapshot(snap.snapshot_id)
                with pytest.raises(PermissionDenied):
                    tc.create_session(other.session.user_id, from_snapshot=snap.snapshot_id)
        finally:
            client.end_session(other.session.session_id, purge=True)
        client.delete_snapshot(snap.snapshot_id)
        with pytest.raises(NotFound):
            client.get_snapshot(snap.snapshot_id)
    finally:
        client.end_session(s.session_id, purge=True)
