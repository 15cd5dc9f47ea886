"""The xmppd VM: QEMU under TCG on a throwaway overlay, on tap tb-tap0 in
tb-lan; serial console to a file, QMP on a unix socket, ssh for commands
inside (root's key given at boot as a systemd credential, which the
image's first-boot unit installs; no key is ever baked into the image).
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import time

from tbcommon import (CLIENTS, DOMAIN, IMAGE_DIR, MAM_MODES, NIC_ID, NS_LAN,
                      RUN, TAP, BRIDGE, VM4, VM6, VM_MAC, TbError, in_ns,
                      kill_pid, log, ns_exists, read_pid, run,
                      users_file_bytes, wait_until)

DISK = os.path.join(RUN, "disk.qcow2")
QMP = os.path.join(RUN, "qmp.sock")
PIDFILE = os.path.join(RUN, "qemu.pid")
SERIAL = os.path.join(RUN, "serial.log")
KEY = os.path.join(RUN, "id_ed25519")
# What the image's xmppd-ready.service prints once xmppd sent READY=1.
READY_MARK = b"xmppd-ready: uptime"
BOOT_TIMEOUT = float(os.environ.get("TB_BOOT_TIMEOUT", "300"))


# -- QMP ----------------------------------------------------------------

def qmp(command, **args):
    """One QMP command; its "return" value. Bounded by a 10 s timeout."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        try:
            s.connect(QMP)
        except OSError as e:
            raise TbError(f"QMP {QMP}: {e.strerror} (is the VM up?)")
        f = s.makefile("rw")
        f.readline()                                # greeting
        for cmd, arg in (("qmp_capabilities", None), (command, args)):
            msg = {"execute": cmd}
            if arg:
                msg["arguments"] = arg
            f.write(json.dumps(msg) + "\n")
            f.flush()
            while True:                             # skip async events
                line = f.readline()
                if not line:
                    raise TbError(f"QMP {cmd}: connection closed")
                reply = json.loads(line)
                if "return" in reply or "error" in reply:
                    break
            if "error" in reply:
                raise TbError(f"QMP {cmd}: {reply['error'].get('desc')}")
        return reply["return"]


# -- boot ----------------------------------------------------------------

def image_files():
    names = ("xmppd-bookworm.qcow2", "vmlinuz", "initrd.img", "cmdline")
    paths = [os.path.join(IMAGE_DIR, n) for n in names]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise TbError(f"no image: {', '.join(missing)} missing "
                      f"(make testbed-image)")
    return paths


def ssh_key():
    if not os.path.exists(KEY):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
             "tb@testbed", "-f", KEY])
    with open(KEY + ".pub", "rb") as f:
        return f.read()


def credential(name, data):
    b64 = base64.b64encode(data).decode()
    return ["-smbios",
            f"type=11,value=io.systemd.credential.binary:{name}={b64}"]


def make_tap():
    if not ns_exists(NS_LAN):
        raise TbError("no network (tb up)")
    run(["ip", "-n", NS_LAN, "link", "del", TAP], check=False, capture=True)
    run(["ip", "-n", NS_LAN, "tuntap", "add", "dev", TAP, "mode", "tap"])
    run(["ip", "-n", NS_LAN, "link", "set", TAP, "master", BRIDGE, "up"])


def qemu_argv(kernel, initrd, cmdline):
    users = users_file_bytes()
    return [
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
        "-m", "1024", "-smp", "2", "-display", "none", "-monitor", "none",
        "-serial", f"file:{SERIAL}",
        "-qmp", f"unix:{QMP},server=on,wait=off",
        "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
        *credential("xmppd.users", users),
        *credential("ssh.authorized_keys.root", ssh_key()),
        "-drive", f"file={DISK},if=virtio,format=qcow2",
        "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=n0,id={NIC_ID},mac={VM_MAC}",
        "-device", "virtio-rng-pci",
        "-daemonize", "-pidfile", PIDFILE,
    ]


def start(keep_disk=False):
    """Start QEMU; with keep_disk the overlay of the last boot is reused
    (a power cycle), else a fresh one is made from the image."""
    base, kernel, initrd, cmdline_file = image_files()
    stop()
    os.makedirs(RUN, exist_ok=True)
    if not keep_disk or not os.path.exists(DISK):
        if os.path.exists(DISK):
            os.unlink(DISK)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
             "-b", base, DISK])
    if os.path.exists(SERIAL):
        os.replace(SERIAL, SERIAL + ".prev")
    with open(cmdline_file) as f:
        cmdline = f.read().strip()
    make_tap()
    run(in_ns(NS_LAN, *qemu_argv(kernel, initrd, cmdline)), timeout=60)
    log(f"VM started (pid {read_pid(PIDFILE)}), serial log {SERIAL}")


def serial_has(mark):
    try:
        with open(SERIAL, "rb") as f:
            return mark in f.read()
    except FileNotFoundError:
        return False


def port_open(ns, addr, port, timeout=2.0):
    """Does addr:port accept a TCP connection from namespace ns?"""
    code = ("import socket,sys\n"
            "try:\n socket.create_connection((sys.argv[1], int(sys.argv[2])),"
            " float(sys.argv[3])).close()\n"
            "except OSError: sys.exit(1)\n")
    p = subprocess.run(in_ns(ns, "/usr/bin/python3", "-c", code, addr,
                             str(port), str(timeout)),
                       timeout=timeout + 10, stderr=subprocess.DEVNULL)
    return p.returncode == 0


def wait_ports(limit=60):
    """Bounded: port 5222 answering over both families from the
    dual-stack client namespace."""
    ns = CLIENTS["c46"][0]
    for addr in (VM4, VM6):
        wait_until(f"{addr}:5222 from {ns}",
                   lambda a=addr: port_open(ns, a, 5222), limit, 0.5)


def wait_ready(limit=BOOT_TIMEOUT):
    """Bounded: the console's readiness line, then wait_ports()."""
    t0 = time.monotonic()

    def ready():
        if read_pid(PIDFILE) is None:
            raise TbError(f"QEMU exited during boot (log: {SERIAL})")
        return serial_has(READY_MARK)

    try:
        wait_until("xmppd readiness on the serial console", ready, limit, 1)
        wait_ports()
    except TbError:
        tail_serial()
        raise
    took = time.monotonic() - t0
    log(f"VM ready after {took:.1f} s ({DOMAIN} at {VM4}, {VM6})")
    return took


def booted(limit):
    """Bounded: wait until the running VM's boot reached xmppd readiness
    (after a power-on the console log starts afresh); False if it did not
    within limit seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if read_pid(PIDFILE) is None:
            raise TbError("the VM is off")
        if serial_has(READY_MARK):
            return True
        time.sleep(0.5)
    return False


# The keyword is switched the way an operator would: edit the line in
# /etc/xmppd/xmppd.conf (the ansible role's xmppd_mam_default), check the
# file with xmppd -t, restart the service. sync makes the edit survive a
# later power cut. The script prints the mode the file ends up with.
MAM_SCRIPT = r"""set -eu
conf=/etc/xmppd/xmppd.conf
want=%s
have=$(sed -n 's/^[[:space:]]*mam-default[[:space:]]\{1,\}\([a-z]*\).*/\1/p' \
    "$conf" | head -n 1)
if [ "$have" != "$want" ]; then
    if [ -n "$have" ]; then
        sed -i "s/^[[:space:]]*mam-default[[:space:]].*/mam-default $want/" \
            "$conf"
    else
        echo "mam-default $want" >>"$conf"
    fi
    sync
    xmppd -t -c "$conf" >/dev/null
    systemctl restart xmppd.service
    echo "switched $have"
fi
systemctl is-active --quiet xmppd.service
sed -n 's/^[[:space:]]*mam-default[[:space:]]\{1,\}\([a-z]*\).*/mode \1/p' \
    "$conf" | head -n 1
"""


def set_mam(mode):
    """Make the VM's xmppd run with mam-default MODE: a no-op when the
    configuration says so already, else edit, restart, and wait until it
    answers again on both families. Returns the seconds it took."""
    if mode not in MAM_MODES:
        raise TbError(f"mam-default {mode!r}: one of {', '.join(MAM_MODES)}")
    t0 = time.monotonic()
    out = ssh(MAM_SCRIPT % mode).stdout
    if f"mode {mode}" not in out.split("\n"):
        raise TbError(f"mam-default {mode}: the VM's configuration says "
                      f"{out.strip()!r}")
    switched = "switched" in out
    if switched:
        wait_ports()
    took = time.monotonic() - t0
    log(f"xmppd runs with mam-default {mode}"
        + (f" (switched and restarted in {took:.1f} s)" if switched
           else " (the image's setting)"))
    return took


def tail_serial(n=30):
    try:
        with open(SERIAL, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
        log("last serial console lines:\n" + "\n".join(lines))
    except FileNotFoundError:
        pass


def stop(hard=False):
    """QEMU off: SIGKILL when hard (a power cut), else quit via QMP."""
    pid = read_pid(PIDFILE)
    if pid is None:
        return
    if hard:
        os.kill(pid, 9)
    else:
        try:
            qmp("quit")
        except (TbError, OSError):
            pass
    try:
        wait_until("QEMU exit", lambda: read_pid(PIDFILE) is None, 10, 0.1)
    except TbError:
        pass
    kill_pid(PIDFILE)
    if os.path.exists(QMP):
        os.unlink(QMP)


def ssh(command, timeout=60, tries=1):
    """Run a shell command as root in the VM (from tb-lan, over IPv4).
    With tries > 1, a connection that ssh itself could not make (exit
    255: sshd not listening yet after a boot) is tried again 2 s later."""
    if not os.path.exists(KEY):
        raise TbError("no ssh key: was the VM booted by tb boot?")
    argv = in_ns(NS_LAN, "ssh", "-i", KEY, "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no",
                 "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR",
                 f"root@{VM4}", command)
    for _ in range(tries - 1):
        p = run(argv, capture=True, timeout=timeout, check=False)
        if p.returncode != 255:
            break
        time.sleep(2)
    else:
        return run(argv, capture=True, timeout=timeout)
    if p.returncode != 0:
        raise TbError(f"ssh {command!r}: exit {p.returncode} "
                      f"{(p.stderr or '').strip()}".strip())
    return p


def running():
    return read_pid(PIDFILE) is not None


def status():
    pid = read_pid(PIDFILE)
    if pid is None:
        print("vm: not running")
        return False
    print(f"vm: pid {pid}, {'ready' if serial_has(READY_MARK) else 'booting'}"
          f", overlay {DISK}")
    try:
        st = qmp("query-status")
        print(f"vm: qemu status {st.get('status')}")
    except TbError as e:
        print(f"vm: {e}")
    return True


def clean():
    stop()
    for p in (DISK, KEY, KEY + ".pub"):
        if os.path.exists(p):
            os.unlink(p)
    shutil.rmtree(os.path.join(RUN, "profanity"), ignore_errors=True)
