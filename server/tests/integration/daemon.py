"""Start and stop a real xmppd for the integration tests.

A Daemon owns one temporary directory: its config, its users file (Debian's
`login:ha1:realm:state` format), its state directory (SQLite) and the
stderr log. Listeners are on 127.0.0.1 and ::1, port 0, plain (STARTTLS)
and direct TLS; the daemon writes the ports it got to the port-file, which
is how the tests find them. Every wait here is bounded.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import time

DOMAIN = "localhost"
REALM = "rtc.debian.org"
LOGIN_SUFFIX = "@debian.org"

# login -> (password, state). The passwords are the ones of
# fixtures/README.md; the HA1s are computed here so the suite does not
# depend on a file another part of the tree owns.
USERS = {
    "alice": ("wonderland", "AUTHORIZED"),
    "bob": ("builder", "AUTHORIZED"),
    "carol": ("singer", "AUTHORIZED"),
    "dave": ("restricted-pw", "RESTRICTED"),
    "mallory": ("refused-pw", "REFUSED"),
}

MAX_STANZA = 65536
MAX_DEPTH = 32
START_TIMEOUT = 20.0
RATE_KEYWORDS = ("rate-bytes-unauth", "rate-bytes", "rate-stanzas-unauth",
                 "rate-stanzas")
STOP_TIMEOUT = 15.0

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
)


def ha1(login, password, realm=REALM):
    """MD5(login:realm:password) as 32 lower-case hex digits."""
    return hashlib.md5(f"{login}:{realm}:{password}".encode()).hexdigest()


def users_line(user, password, state, eol="\n"):
    login = user + LOGIN_SUFFIX
    return f"{login}:{ha1(login, password)}:{REALM}:{state}{eol}"


def users_text(extra=""):
    lines = ["# xmppd integration test users (Debian rtc format)\n", "\n"]
    lines += [users_line(u, p, s) for u, (p, s) in USERS.items()]
    return "".join(lines) + extra


def write_atomic(path, text):
    """Replace a file in one step: the daemon never reads half of it."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def ipv6_available():
    """Whether ::1 can be bound here (containers sometimes lack it)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class DaemonError(Exception):
    pass


class Daemon:
    """One xmppd process over a directory that may outlive it (restart)."""

    def __init__(self, binary, workdir, certdir, ipv6=True, extra_conf="",
                 state_dir=None):
        self.binary = binary
        self.dir = str(workdir)
        self.ipv6 = ipv6
        self.conf = os.path.join(self.dir, "xmppd.conf")
        self.users_file = os.path.join(self.dir, "users.txt")
        # Elsewhere (a small file system) if the test says so.
        self.state_dir = str(state_dir or os.path.join(self.dir, "state"))
        self.db = os.path.join(self.state_dir, "xmppd.sqlite")
        self.port_file = os.path.join(self.dir, "ports")
        self.certificate = os.path.join(str(certdir), "cert.pem")
        self.key = os.path.join(str(certdir), "key.pem")
        self.proc = None
        self.last_rc = None	# exit status of the last run
        self.ports = {}
        self.runs = 0
        self.stderr_path = None
        self._stderr = None
        if not os.path.exists(self.users_file):
            write_atomic(self.users_file, users_text())
        write_atomic(self.conf, self.config_text(extra_conf))

    def config_text(self, extra=""):
        listen = ["127.0.0.1"] + (["::1"] if self.ipv6 else [])
        lines = [
            "# written by server/tests/integration/daemon.py",
            f"domain {DOMAIN}",
        ]
        for addr in listen:
            lines.append(f"listen {addr} 0")
            lines.append(f"listen {addr} 0 tls")
        lines += [
            f'certificate "{self.certificate}"',
            f'key "{self.key}"',
            "selfsigned yes",
            f'state-dir "{self.state_dir}"',
            "auth file",
            f'users-file "{self.users_file}"',
            f"realm {REALM}",
            f"login-suffix {LOGIN_SUFFIX}",
            f'port-file "{self.port_file}"',
            f"max-stanza-size {MAX_STANZA}",
            f"max-depth {MAX_DEPTH}",
            # Many tests fail logins on purpose from one address.
            "auth-rate-address 1000",
            "auth-rate-account 1000",
        ]
        # Many tests send megabytes or hundreds of stanzas as fast as they
        # can: the per-stream rate limits would only make them slow. A
        # test that sets one of these keywords (test_abuse_stream.py)
        # replaces the line here.
        given = {line.split()[0] for line in extra.splitlines()
                 if line.split()}
        lines += [f"{k} 0" for k in RATE_KEYWORDS if k not in given]
        return "\n".join(lines) + "\n" + extra

    # -- lifecycle ---------------------------------------------------------

    def start(self, args=()):
        """Start `xmppd -c CONF -d [args]`; wait for its port-file."""
        if self.proc is not None:
            raise DaemonError("already running")
        self.runs += 1
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.stderr_path = os.path.join(self.dir, f"stderr.{self.runs}.log")
        self._stderr = open(self.stderr_path, "wb")
        env = dict(os.environ)
        # Leaks are errors; UB stops the process with a report.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen(
            [self.binary, "-c", self.conf, "-d", *args],
            stdin=subprocess.DEVNULL, stdout=self._stderr,
            stderr=self._stderr, env=env, cwd=self.dir)
        self._wait_ports()
        return self

    def _wait_ports(self):
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise DaemonError(
                    f"xmppd exited with {self.proc.returncode} before "
                    f"listening:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
                raise DaemonError(
                    f"no port-file after {START_TIMEOUT}s:\n{self.stderr()}")
            time.sleep(0.02)
        self.ports = {}
        with open(self.port_file) as f:
            for line in f:
                addr, port, kind = line.split()
                self.ports[(addr, kind)] = int(port)

    def check_config(self, conf=None):
        """xmppd -c CONF -t: (exit status, combined output)."""
        r = subprocess.run([self.binary, "-c", conf or self.conf, "-t"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=START_TIMEOUT, cwd=self.dir)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8",
                                                         "replace")

    def run_once(self, args, timeout=START_TIMEOUT):
        """Run `xmppd -c CONF ARGS` to its end, not as the daemon (a
        start expected to be refused, `--init`): (exit status, output).
        The output is also kept in a stderr log of its own."""
        self.runs += 1
        self.stderr_path = os.path.join(self.dir, f"stderr.{self.runs}.log")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        try:
            r = subprocess.run([self.binary, "-c", self.conf, *args],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout, cwd=self.dir, env=env)
        except subprocess.TimeoutExpired as e:
            raise DaemonError(f"xmppd {' '.join(args)} still running after "
                              f"{timeout}s") from e
        out = r.stdout + r.stderr
        with open(self.stderr_path, "wb") as f:
            f.write(out)
        self.last_rc = r.returncode
        return r.returncode, out.decode("utf-8", "replace")

    def port(self, addr="127.0.0.1", kind="plain"):
        return self.ports[(addr, kind)]

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signo):
        self.proc.send_signal(signo)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait (bounded) for the daemon to exit on its own; return its
        status. Unlike stop() it sends no signal; on timeout it raises
        and leaves the process running for the teardown."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise DaemonError(f"xmppd still running after {timeout}s:\n"
                              f"{tail(self.stderr())}") from None
        self.proc = None
        self._stderr.close()
        self.last_rc = rc
        return rc

    def stop(self):
        """SIGTERM, bounded wait; returns (exit code, stderr text)."""
        if self.proc is None:
            return self.last_rc, self.stderr()
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
            rc = "timeout (killed)"
        self._stderr.close()
        self.last_rc = rc
        return rc, self.stderr()

    def stop_checked(self):
        """Stop, and fail unless the exit was clean and sanitizer-quiet."""
        if self.runs == 0:
            return ""
        rc, err = self.stop()
        problems = [m for m in SANITIZER_MARKERS if m in err]
        if rc != 0 or problems:
            raise DaemonError(
                f"xmppd exit={rc} sanitizer={problems} "
                f"(log {self.stderr_path}):\n{tail(err)}")
        return err

    def restart(self):
        self.stop_checked()
        return self.start()

    # -- logs --------------------------------------------------------------

    def stderr(self):
        if self.stderr_path is None:
            return ""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, start=0, timeout=10.0):
        """Wait until needle appears in stderr after offset start."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.stderr()
            i = text.find(needle, start)
            if i != -1:
                return i + len(needle)
            if self.proc is None or self.proc.poll() is not None:
                raise DaemonError(f"xmppd gone while waiting for "
                                  f"{needle!r}:\n{tail(text)}")
            if time.monotonic() > deadline:
                raise DaemonError(f"{needle!r} not logged within "
                                  f"{timeout}s:\n{tail(text)}")
            time.sleep(0.02)

    def wait_log_re(self, pattern, start=0, timeout=10.0):
        """Like wait_log, for a regular expression (case-insensitive);
        returns the match."""
        rx = re.compile(pattern, re.IGNORECASE)
        deadline = time.monotonic() + timeout
        while True:
            text = self.stderr()
            m = rx.search(text, start)
            if m:
                return m
            if self.proc is None or self.proc.poll() is not None:
                raise DaemonError(f"xmppd gone while waiting for "
                                  f"/{pattern}/:\n{tail(text)}")
            if time.monotonic() > deadline:
                raise DaemonError(f"/{pattern}/ not logged within "
                                  f"{timeout}s:\n{tail(text)}")
            time.sleep(0.02)

    def log_size(self):
        """The length of the current run's log: an offset for wait_log."""
        return len(self.stderr())


def tail(text, n=80):
    return "\n".join(text.splitlines()[-n:])
