"""Fixtures: the real xmppd binary, one daemon per test, logged-in witnesses.

The binary comes from $XMPPD (`make integration` sets it to the ASan
build), else build/asan/xmppd, else build/xmppd. Each test gets its own
daemon in its own directory, so tests are independent and a sanitizer
report or an unclean exit is pinned on the test that caused it.
"""

import os
import shutil

import pytest

from daemon import Daemon, DaemonError, ipv6_available, tail
from faults import MountRefused, Tmpfs
from rawxmpp import RawStream

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__),
                                    "..", "..", ".."))
HAVE_IPV6 = ipv6_available()


def _find_binary():
    env = os.environ.get("XMPPD")
    if env:
        return os.path.abspath(env)
    for rel in ("build/asan/xmppd", "build/xmppd"):
        path = os.path.join(ROOT, rel)
        if os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="session")
def xmppd_bin():
    path = _find_binary()
    if path is None or not os.access(path, os.X_OK):
        pytest.fail(f"no xmppd binary (XMPPD={os.environ.get('XMPPD')!r}); "
                    "run `make integration`, or build and set XMPPD")
    return path


@pytest.fixture(scope="session")
def certdir(tmp_path_factory):
    """One self-signed certificate for the session: xmppd makes it once
    (selfsigned yes) and later daemons reuse it, which keeps start-up
    fast under ASan."""
    return tmp_path_factory.mktemp("cert")


@pytest.fixture
def ipv6():
    if not HAVE_IPV6:
        pytest.skip("::1 cannot be bound on this machine (no IPv6 "
                    "loopback), so the IPv6 listeners are not configured")
    return "::1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the daemon's stderr to a failing test's report."""
    outcome = yield
    rep = outcome.get_result()
    daemons = getattr(item, "_xmppd_daemons", [])
    if rep.failed and daemons:
        for d in daemons:
            rep.sections.append((f"xmppd stderr ({d.stderr_path})",
                                 tail(d.stderr(), 150)))


def _daemon_factory(request, xmppd_bin, certdir, tmp_path):
    started = []
    request.node._xmppd_daemons = started

    def make(name="xmppd", extra_conf="", start=True, state_dir=None):
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        d = Daemon(xmppd_bin, workdir, certdir, ipv6=HAVE_IPV6,
                   extra_conf=extra_conf, state_dir=state_dir)
        started.append(d)
        if start:
            d.start()
        return d

    return make, started


@pytest.fixture
def make_daemon(request, xmppd_bin, certdir, tmp_path):
    """Factory for daemons (restart tests keep their directory). Each one
    must stop cleanly: exit status 0 and no sanitizer report."""
    make, started = _daemon_factory(request, xmppd_bin, certdir, tmp_path)
    yield make
    errors = []
    for d in started:
        try:
            d.stop_checked()
        except DaemonError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def small_fs(request, make_daemon, tmp_path):
    """Factory: a tmpfs of SIZE MiB mounted in the test's directory (for a
    state directory that can really run out of space). At teardown the
    daemons are stopped first (make_daemon still checks how they exited)
    and every mount is removed. Skips when mount(2) is not permitted."""
    mounts = []

    def make(size_mib, name="fs"):
        fs = Tmpfs(tmp_path / name, size_mib)
        try:
            fs.mount()
        except MountRefused as e:
            pytest.skip(f"cannot mount a tmpfs here ({e}): the disk-full "
                        "cases need a file system that really fills up")
        mounts.append(fs)
        return fs

    yield make
    for d in getattr(request.node, "_xmppd_daemons", []):
        if any(d.state_dir.startswith(fs.path) for fs in mounts):
            d.stop()
    for fs in mounts:
        fs.umount()


@pytest.fixture
def server(make_daemon):
    """A running daemon with the test users, on fresh state."""
    return make_daemon()


@pytest.fixture
def witness(server):
    """bob, logged in over STARTTLS before the misbehaving client shows
    up: after each bad input he must still get a ping answered."""
    w = RawStream("127.0.0.1", server.port())
    w.login("bob", "builder", resource="witness")
    yield w
    w.close()


def pytest_report_header(config):
    return [f"xmppd: {_find_binary()}",
            f"ipv6 loopback: {'yes' if HAVE_IPV6 else 'no'}"]


def copy_users_file(src, dst):
    shutil.copyfile(src, dst)
