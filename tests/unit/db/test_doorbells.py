"""Doorbells: Unix datagram sockets beside a SQLite file, rung on commit, removed once their process is
gone."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from regnotify.db.doorbells import MAX_ADDRESS, Directory


def test_a_ring_reaches_every_other_bell_but_not_its_own(tmp_path: Path) -> None:
    ours, theirs = Directory(tmp_path / "db-wakeup"), Directory(tmp_path / "db-wakeup")  # two processes
    own, other = ours.bind(), theirs.bind()
    assert own is not None and other is not None
    assert ours.ring() == 1  # its own bell is woken in-process, not by a datagram
    assert other.drain() == 1 and own.drain() == 0
    own.close()
    other.close()
    assert list((tmp_path / "db-wakeup").iterdir()) == []


def test_a_full_bell_and_a_missing_directory_are_no_errors(tmp_path: Path) -> None:
    assert Directory(tmp_path / "nobody-yet").ring() == 0
    listener, ringer = Directory(tmp_path / "db-wakeup"), Directory(tmp_path / "db-wakeup")
    bell = listener.bind()
    assert bell is not None
    for _ in range(200):  # far past the socket's queue: the rest are dropped, one wake is pending
        ringer.ring()
    assert bell.drain() >= 1
    bell.close()


def test_a_bell_whose_process_is_gone_is_removed(tmp_path: Path) -> None:
    directory = tmp_path / "db-wakeup"
    directory.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(directory / "99999-dead.sock"))
    stale.close()  # as a killed process leaves it: the file stays, nobody reads it
    assert Directory(directory).ring() == 0
    assert list(directory.iterdir()) == []


def test_a_new_bell_is_rung_at_once(tmp_path: Path) -> None:
    ringer, listener = Directory(tmp_path / "db-wakeup"), Directory(tmp_path / "db-wakeup")
    assert ringer.ring() == 0  # lists (nothing yet) and caches the listing
    bell = listener.bind()
    assert bell is not None
    assert ringer.ring() == 1  # the directory changed: listed again
    bell.close()


def test_a_path_too_long_for_a_socket_address_still_binds(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(os.fsencode(deep / "db-wakeup" / "1234567-0123456789ab.sock")) > MAX_ADDRESS
    listener, ringer = Directory(deep / "db-wakeup"), Directory(deep / "db-wakeup")
    bell = listener.bind()
    assert bell is not None  # through /proc/self/fd on Linux
    assert ringer.ring() == 1 and bell.drain() == 1
    bell.close()
    assert list((deep / "db-wakeup").iterdir()) == []


def test_no_bell_where_none_can_be_bound(tmp_path: Path) -> None:
    (tmp_path / "db-wakeup").write_text("a file, not a directory")
    assert Directory(tmp_path / "db-wakeup").bind() is None  # the worker polls alone
    assert Directory(tmp_path / "db-wakeup").ring() == 0
