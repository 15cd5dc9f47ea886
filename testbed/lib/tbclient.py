"""Real clients in a client namespace: any command, slixmpp scripts, and
profanity in tmux (its own tmux server on a socket under the run
directory, so the user's tmux is never touched).
"""

import os
import shutil
import subprocess

from tbcommon import (DOMAIN, PYTHON, RUN, TOP, TbError, client_ns, in_ns,
                      log, run)

TMUX_SOCK = os.path.join(RUN, "tmux.sock")
SRV = os.path.join(TOP, "testbed", "lib", "srv.py")
# Test accounts of fixtures/README.md (published on purpose).
PASSWORDS = {"alice": "wonderland", "bob": "builder", "carol": "singer",
             "dave": "restricted-pw"}


def resolve(name, direct_tls=False):
    """HOST:PORT list a client in that namespace finds through SRV."""
    argv = in_ns(client_ns(name), PYTHON, SRV, DOMAIN)
    if direct_tls:
        argv.append("--direct-tls")
    return run(argv, capture=True, timeout=30).stdout.split()


def client_env():
    env = dict(os.environ, TB_DOMAIN=DOMAIN)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(TOP, "testbed"), env.get("PYTHONPATH", "")])
    return env


def run_in(name, argv):
    """A command in the client namespace, in the foreground."""
    return subprocess.call(in_ns(client_ns(name), *argv), env=client_env())


def slixmpp(name, script, args):
    if os.sep not in script and not os.path.exists(script):
        script = os.path.join(TOP, "testbed", "lib", "clients", script)
    return run_in(name, [PYTHON, script, *args])


def tmux(*args, check=True, capture=False):
    return run(["tmux", "-S", TMUX_SOCK, *args], check=check,
               capture=capture, timeout=15)


def session(name):
    return "tb-" + client_ns(name).removeprefix("tb-")


def profanity(name, user="alice"):
    """profanity for USER@DOMAIN in tmux, connecting by itself (SRV)."""
    ns = client_ns(name)
    if user not in PASSWORDS:
        raise TbError(f"no password known for {user!r}: "
                      f"{', '.join(PASSWORDS)}")
    home = os.path.join(RUN, "profanity", f"{session(name)}-{user}")
    shutil.rmtree(home, ignore_errors=True)
    cfg = os.path.join(home, "config", "profanity")
    data = os.path.join(home, "data", "profanity")
    os.makedirs(cfg)
    os.makedirs(data)
    jid = f"{user}@{DOMAIN}"
    with open(os.path.join(data, "accounts"), "w") as f:
        # tls.policy=trust: the VM's certificate is a fresh self-signed
        # one; no server= line, so profanity looks up SRV like users do.
        f.write(f"[{jid}]\nenabled=true\njid={jid}\nresource=profanity\n"
                f"password={PASSWORDS[user]}\ntls.policy=trust\n")
    with open(os.path.join(cfg, "profrc"), "w") as f:
        f.write("[ui]\nsplash=false\n[notifications]\nmessage=false\n"
                "[logging]\nchlog=false\ngrlog=false\n")
    env = (f"XDG_CONFIG_HOME={home}/config XDG_DATA_HOME={home}/data "
           f"TERM=xterm-256color")
    sess = session(name)
    tmux("kill-session", "-t", sess, check=False, capture=True)
    tmux("new-session", "-d", "-s", sess, "-x", "160", "-y", "45",
         f"env {env} ip netns exec {ns} profanity -a {jid}")
    log(f"profanity for {jid} in {ns}: tmux -S {TMUX_SOCK} attach -t {sess}"
        f"   (or tb client keys / capture {name})")


def keys(name, args):
    tmux("send-keys", "-t", session(name), *args)


def capture(name):
    print(tmux("capture-pane", "-p", "-t", session(name),
               capture=True).stdout, end="")


def stop_all():
    if os.path.exists(TMUX_SOCK):
        tmux("kill-server", check=False, capture=True)
        try:
            os.unlink(TMUX_SOCK)
        except FileNotFoundError:
            pass
