#!/usr/bin/python3
"""Print the Debian mirror and security mirror this machine's apt uses.

Reads /etc/apt/sources.list and sources.list.d (one-line and deb822
formats), so the image comes from whatever mirror the build host is
configured for and no host name is written into the repository.
Output: two words, "MIRROR SECURITY_MIRROR"; exit 1 if none is found.
"""
import glob
import os
import sys

ROOT = os.environ.get("APT_ROOT", "/etc/apt")


def one_line_entries(path):
    """Yield (uri, suites) from a sources.list file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if len(words) < 3 or words[0] != "deb":
                continue
            words = words[1:]
            if words[0].startswith("["):	# [signed-by=... arch=...]
                while words and not words[0].endswith("]"):
                    words = words[1:]
                words = words[1:]
            if len(words) >= 2:
                yield words[0], [words[1]]


def deb822_entries(path):
    """Yield (uri, suites) from a .sources file, skipping Enabled: no."""
    with open(path, encoding="utf-8") as f:
        stanzas = f.read().split("\n\n")
    for stanza in stanzas:
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []):
            continue
        if fields.get("enabled", ["yes"])[0].lower() == "no":
            continue
        for uri in fields.get("uris", []):
            yield uri, fields.get("suites", [])


def main():
    entries = []
    files = [os.path.join(ROOT, "sources.list")]
    files += sorted(glob.glob(os.path.join(ROOT, "sources.list.d", "*.list")))
    for path in files:
        if os.path.exists(path):
            entries += one_line_entries(path)
    for path in sorted(glob.glob(os.path.join(ROOT, "sources.list.d", "*.sources"))):
        entries += deb822_entries(path)
    mirror = security = None
    for uri, suites in entries:
        uri = uri.rstrip("/")
        if mirror is None and "bookworm" in suites:
            mirror = uri
        if security is None and "bookworm-security" in suites:
            security = uri
    if mirror is None:
        print("apt-mirror: no bookworm mirror in " + ROOT, file=sys.stderr)
        return 1
    if security is None:	# the usual layout beside the main archive
        security = mirror.rsplit("/", 1)[0] + "/debian-security"
    print(mirror, security)
    return 0


if __name__ == "__main__":
    sys.exit(main())
