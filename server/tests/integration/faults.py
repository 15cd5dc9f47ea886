"""Fault actions for the durability tests and the loopback loss-checker
runs: a small file system that can be filled and freed, an external
process holding SQLite's write lock, SIGSTOP/SIGCONT, SIGKILL (once or in
a loop) with a restart on the same state, and read-only looks into the
daemon's database.

Everything here is bounded, acts only on processes the tests started
(by PID), and undoes itself: a mounted file system is unmounted, a lock
holder is ended, a stopped daemon is continued.
"""

import errno
import os
import random
import selectors
import signal
import sqlite3
import subprocess
import threading
import time

from daemon import DaemonError

FILL_CHUNK = 64 * 1024


class FaultError(Exception):
    """A fault could not be injected: the test proves nothing then."""


def wait_until(pred, timeout, what, interval=0.02):
    """Poll pred() until it returns a true value (returned); raise
    TimeoutError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(interval)


# -- a small file system --------------------------------------------------

class MountRefused(Exception):
    """mount(2) is not permitted here (no CAP_SYS_ADMIN, a container)."""


class Tmpfs:
    """A tmpfs of a few MiB mounted on a directory of our own, so the
    state directory can run out of space for real."""

    def __init__(self, path, size_mib):
        self.path = str(path)
        self.size_mib = size_mib
        self.mounted = False
        self.fillers = []

    def mount(self):
        os.makedirs(self.path, exist_ok=True)
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mib}m,mode=0755",
             "tmpfs", self.path], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise MountRefused(f"mount -t tmpfs on {self.path}: exit "
                               f"{r.returncode}: {r.stderr.strip()}")
        self.mounted = True
        return self

    def free_bytes(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave=0, name=None):
        """Write a file until the file system is full (ENOSPC), or until
        only `leave` bytes are free. Returns the bytes written."""
        path = os.path.join(self.path, name or
                            f"filler.{len(self.fillers)}")
        self.fillers.append(path)
        written = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                room = self.free_bytes() - leave
                if room <= 0:
                    break
                try:
                    written += os.write(fd, b"\0" * min(FILL_CHUNK, room))
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        finally:
            os.close(fd)
        return written

    def free(self):
        """Delete every filler file."""
        for path in self.fillers:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.fillers = []

    def umount(self):
        if not self.mounted:
            return
        deadline = time.monotonic() + 10
        while True:
            r = subprocess.run(["umount", self.path], capture_output=True,
                               text=True, timeout=30)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                # Still busy: detach it so nothing is left mounted.
                subprocess.run(["umount", "-l", self.path], timeout=30)
                break
            time.sleep(0.1)
        self.mounted = False


# -- SQLite ---------------------------------------------------------------

class LockHolder:
    """An external sqlite3 process (the command-line shell) that takes
    the database's write lock with BEGIN IMMEDIATE and keeps it until
    release() (or until `hold` seconds have passed, if given, as a
    backstop)."""

    def __init__(self, db, hold=None):
        self.db = db
        self.hold = hold
        self.proc = None
        self.locked_at = None
        self.released_at = None

    def start(self, timeout=15.0):
        self.proc = subprocess.Popen(
            ["sqlite3", "-batch", self.db], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.proc.stdin.write(".timeout 10000\nBEGIN IMMEDIATE;\n"
                              "SELECT 'locked';\n")
        self.proc.stdin.flush()
        line = read_line(self.proc.stdout, timeout)
        if line.strip() != "locked":
            self.kill()
            raise FaultError(f"sqlite3 did not get the write lock: {line!r}")
        self.locked_at = time.monotonic()
        if self.hold is not None:
            t = threading.Timer(self.hold, self.release)
            t.daemon = True
            t.start()
        return self

    def release(self):
        """Roll back (nothing was written) and end the process."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write("ROLLBACK;\n.quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.kill()
        if self.released_at is None:
            self.released_at = time.monotonic()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.released_at is None:
            self.released_at = time.monotonic()


def read_line(f, timeout):
    sel = selectors.DefaultSelector()
    sel.register(f, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise FaultError(f"no answer within {timeout}s")
        return f.readline()
    finally:
        sel.close()


def db_query(db, sql, args=()):
    """A read-only query on the daemon's database from another process
    (WAL: readers never block the server)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def tables(db):
    return {r[0] for r in db_query(
        db, "SELECT name FROM sqlite_master WHERE type='table'")}


def spool_count(db, user=None):
    """Rows waiting for delivery (table spool; the old server's was
    offline), for one account or for all."""
    t = "spool" if "spool" in tables(db) else "offline"
    cols = [r[1] for r in db_query(db, f"PRAGMA table_info({t})")]
    ucol = next(c for c in ("user", "owner", "account") if c in cols)
    if user is None:
        return db_query(db, f"SELECT count(*) FROM {t}")[0][0]
    return db_query(db, f"SELECT count(*) FROM {t} WHERE {ucol} = ?",
                    (user,))[0][0]


# -- the daemon's process ---------------------------------------------------

def kill9(daemon):
    """SIGKILL the daemon and reap it; fails unless SIGKILL ended it."""
    daemon.signal(signal.SIGKILL)
    rc, _ = daemon.stop()
    if rc != -signal.SIGKILL:
        raise FaultError(f"xmppd exited {rc}, not by SIGKILL")
    return rc


def kill_restart(daemon, on_restart=None):
    """SIGKILL and start again on the same state directory, as systemd's
    Restart= would. on_restart(daemon) runs after the new start (e.g. to
    point fault proxies at the new ports)."""
    kill9(daemon)
    daemon.start()
    if on_restart is not None:
        on_restart(daemon)
    return "restarted"


class Paused:
    """SIGSTOP the daemon; SIGCONT on exit (also when the test fails)."""

    def __init__(self, daemon):
        self.daemon = daemon

    def __enter__(self):
        self.daemon.signal(signal.SIGSTOP)
        return self

    def __exit__(self, *exc):
        if self.daemon.proc is not None and self.daemon.proc.poll() is None:
            self.daemon.signal(signal.SIGCONT)
        return False


def sigstop(daemon):
    daemon.signal(signal.SIGSTOP)
    return "stopped"


def sigcont(daemon):
    daemon.signal(signal.SIGCONT)
    return "continued"


class KillLoop:
    """SIGKILL and restart the daemon every `low`..`high` seconds (seeded,
    so a failure can be replayed) until stop(). Runs in a thread; each
    round is recorded; an exception ends the loop and is kept."""

    def __init__(self, daemon, low=2.0, high=5.0, seed=None,
                 on_restart=None):
        self.daemon = daemon
        self.low, self.high = low, high
        self.seed = random.randrange(1 << 30) if seed is None else seed
        self.rnd = random.Random(self.seed)
        self.on_restart = on_restart
        self.rounds = []
        self.error = None
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.rnd.uniform(self.low, self.high)):
            try:
                t = time.monotonic()
                kill_restart(self.daemon, self.on_restart)
                self.rounds.append(round(time.monotonic() - t, 3))
            except (FaultError, DaemonError, OSError) as e:
                self.error = e
                return

    def cancel(self):
        """Stop without judging (a test's cleanup)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        if self.error is not None:
            raise FaultError(f"kill loop (seed {self.seed}) failed after "
                             f"{len(self.rounds)} rounds: {self.error}")
        return len(self.rounds)
