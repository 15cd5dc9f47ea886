"""A real FreeRADIUS (Debian's freeradius package, rlm_digest and
rlm_passwd) on loopback for xmppd's `auth radius`: the integration tests
(test_radius.py) and the login-rate bench (server/bench/login_rate.py)
share it. Each instance runs `freeradius -f` over a configuration made
from fixtures/radius/ in a directory of its own, and is stopped by PID.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

from daemon import REALM, users_text, write_atomic

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__),
                                    "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "fixtures", "radius")
FREERADIUS = shutil.which("freeradius") or "/usr/sbin/freeradius"
SECRET = "xmppd-test-secret"
TIMEOUT_MS = 700		# radius-timeout of the daemons here
RETRIES = 2			# radius-retries
START_TIMEOUT = 20.0


def free_udp_port(family=socket.AF_INET, addr="127.0.0.1"):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


class FreeRadius:
    """One `freeradius -f` over a generated config directory."""

    def __init__(self, workdir, secret=SECRET, users=None):
        self.dir = str(workdir)
        self.port = free_udp_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "freeradius.log")
        os.makedirs(os.path.join(self.dir, "mods-enabled"), exist_ok=True)
        with open(os.path.join(FIXTURES, "radiusd.conf.in")) as f:
            conf = f.read()
        conf = (conf.replace("@DIR@", self.dir)
                .replace("@SECRET@", secret)
                .replace("@PORT@", str(self.port)))
        self._write("radiusd.conf", conf)
        for mod in ("digest", "debian_rtc_users"):
            shutil.copy(os.path.join(FIXTURES, "mods-available", mod),
                        os.path.join(self.dir, "mods-enabled", mod))
        shutil.copy(os.path.join(FIXTURES, "xmpp-digest.site"), self.dir)
        # The daemon's own users file, so both backends know the same
        # accounts (REFUSED lines included: the site must refuse them).
        self._write("rtc-users.txt", users if users is not None
                    else users_text())
        # FreeRADIUS refuses to read world-writable configuration.
        for root, dirs, files in os.walk(self.dir):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o700 if name in dirs
                         else 0o600)

    def _write(self, name, text):
        with open(os.path.join(self.dir, name), "w", newline="") as f:
            f.write(text)

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [FREERADIUS, "-f", "-d", self.dir], stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + START_TIMEOUT
        while "Ready to process requests" not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError(f"freeradius exited "
                                   f"{self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"freeradius not ready:\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self):
        """Terminate by PID (a SIGSTOPped one too); bounded wait."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGCONT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._log.close()

    def freeze(self):
        """SIGSTOP: the socket stays open but nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def secret_file(tmp_path, secret=SECRET, mode=0o600, name="radius.secret"):
    path = tmp_path / name
    path.write_text(secret + "\n")
    os.chmod(path, mode)
    return str(path)


def radius_conf(servers, secret_path, timeout=TIMEOUT_MS):
    lines = ["auth radius"]
    lines += [f"radius-server {addr} {port}" for addr, port in servers]
    lines += [f'radius-secret-file "{secret_path}"',
              f"radius-timeout {timeout}", f"radius-retries {RETRIES}"]
    return "\n".join(lines) + "\n"


def use_radius(d, servers, secret_path, realm=None):
    """Swap a not yet started Daemon's "auth file" for radius (the config
    refuses a keyword given twice, so extra_conf cannot do it)."""
    text = d.config_text().replace(
        "auth file\n", radius_conf(servers, secret_path))
    if realm is not None:
        text = text.replace(f"realm {REALM}\n", f"realm {realm}\n")
    assert "auth radius" in text
    write_atomic(d.conf, text)
    return d
