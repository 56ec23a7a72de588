"""Doorbells: waking worker processes on this machine at once, through Unix datagram sockets.

Each worker on a SQLite database binds a socket (its doorbell) in a directory beside the database
file, ``<database>-wakeup/<pid>-<random>.sock``, and waits for it to become readable. A process that
commits deliveries rings every doorbell there: a one-byte datagram each, sent without blocking. A
bell whose queue is full already has a wake pending, so a full queue is not an error; a socket file
nobody is bound to any more (its process died) refuses the datagram and is removed.

Ringing costs one ``stat`` of the directory plus one ``sendto`` per other worker: the listing is
cached until the directory changes, or a second at most. A socket path longer than ``sun_path``
holds is reached through ``/proc/self/fd`` (Linux); where that fails too, there is no doorbell and
the worker falls back to polling alone.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import socket
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".sock"
MAX_ADDRESS = 107  # bytes of sun_path, less its terminating NUL
RELIST_AFTER = 1.0  # seconds a cached listing is trusted when the directory looks unchanged
SETTLED_NS = 50_000_000  # a directory changed this recently (ns) may change again within its mtime tick


class Bell:
    """One worker's doorbell: a bound, non-blocking datagram socket. Read it with ``drain()``."""

    def __init__(self, directory: Directory, name: str, sock: socket.socket) -> None:
        self.directory = directory
        self.name = name
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> int:
        """Read every datagram waiting; how many there were."""
        rung = 0
        while True:
            try:
                self.sock.recv(64)
            except OSError:  # BlockingIOError: nothing more waiting
                return rung
            rung += 1

    def close(self) -> None:
        self.directory.forget(self)


class Directory:
    """The doorbells of one database, as this process sees them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._dir_fd: int | None = None  # opened only for paths too long to bind directly
        self._sender: socket.socket | None = None
        self._own: set[str] = set()
        self._names: tuple[tuple[str, str], ...] = ()  # (name, address) of every bell listed
        self._listed_at = -RELIST_AFTER
        self._listed_mtime = -1

    @classmethod
    def beside(cls, database: str) -> Directory:
        """The doorbell directory of the SQLite file ``database``."""
        return cls(Path(os.path.realpath(database) + "-wakeup"))

    # -- the worker's side ---------------------------------------------------------------------

    def bind(self) -> Bell | None:
        """A new doorbell for this process, or None (logged at debug) when it cannot have one."""
        with self._lock:
            self._after_fork()
            name = f"{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                self.path.mkdir(mode=0o755, exist_ok=True)
                address = self._address(name)
                if address is None:
                    raise OSError(errno.ENAMETOOLONG, "socket path too long", str(self.path / name))
                sock.bind(address)
                sock.setblocking(False)
            except OSError as exc:
                sock.close()
                log.debug("no wake-up socket in %s (%s): polling alone", self.path, exc)
                return None
            self._own.add(name)
            self._listed_mtime = -1  # the directory changed: list it again on the next ring
            return Bell(self, name, sock)

    def forget(self, bell: Bell) -> None:
        with self._lock:
            self._own.discard(bell.name)
            with contextlib.suppress(OSError):
                os.unlink(self.path / bell.name)
            bell.sock.close()

    # -- the committing side -------------------------------------------------------------------

    def ring(self) -> int:
        """Ring every other doorbell in the directory; how many datagrams were sent."""
        with self._lock:
            self._after_fork()
            names = self._current_names()
            if not names:
                return 0
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            sent = 0
            for name, address in names:
                if name in self._own:
                    continue  # woken in-process already
                try:
                    self._sender.sendto(b"!", address)
                    sent += 1
                except (BlockingIOError, InterruptedError):
                    pass  # its queue is full: a wake is pending already
                except ConnectionRefusedError:  # nobody bound to it: its process is gone
                    with contextlib.suppress(OSError):
                        os.unlink(self.path / name)
                    self._listed_mtime = -1
                except FileNotFoundError:
                    self._listed_mtime = -1  # removed meanwhile: list again
                except OSError:
                    pass  # ENOBUFS (as a full queue), or a bell this process may not ring
            return sent

    def _current_names(self) -> tuple[tuple[str, str], ...]:
        now = time.monotonic()
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            self._names = ()  # no worker has made the directory yet
            return ()
        if mtime != self._listed_mtime or now - self._listed_at > RELIST_AFTER:
            try:
                listed = [name for name in os.listdir(self.path) if name.endswith(SUFFIX)]
                addresses = [(name, self._address(name)) for name in listed]
                self._names = tuple((name, address) for name, address in addresses if address is not None)
            except OSError:
                self._names = ()
            # a change in the same clock tick as this listing would leave the mtime as it is: trust a
            # listing only once the directory's last change is a little older than it
            fresh = time.time_ns() - mtime < SETTLED_NS
            self._listed_mtime = -1 if fresh else mtime
            self._listed_at = now
        return self._names

    # -- addresses -----------------------------------------------------------------------------

    def _address(self, name: str) -> str | None:
        direct = str(self.path / name)
        if len(os.fsencode(direct)) <= MAX_ADDRESS:
            return direct
        if not sys.platform.startswith("linux"):
            return None
        if self._dir_fd is None:
            try:
                self._dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                return None
        return f"/proc/self/fd/{self._dir_fd}/{name}"

    def _after_fork(self) -> None:
        """A forked child owns none of its parent's doorbells (it would never ring them)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._own = set()
            self._sender = None
            self._listed_mtime = -1


_directories: dict[str, Directory] = {}
_directories_lock = threading.Lock()


def directory_for(database: str) -> Directory:
    """This process's one ``Directory`` for the SQLite file ``database``."""
    key = os.path.realpath(database)
    with _directories_lock:
        found = _directories.get(key)
        if found is None:
            found = _directories[key] = Directory.beside(database)
        return found
