#!/bin/sh
# make lint: static checks that CI enforces. cppcheck over the C sources
# and tests, shellcheck over every shell script in the tree, no cycle in
# the file-level call and include graphs (ci/callgraph.py), pyflakes over
# every Python file (tests, testbed, bench).
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
rc=0

echo "-- cppcheck"
cppcheck --quiet --error-exitcode=1 --inline-suppr \
    --enable=warning,portability,performance \
    --std=c11 -D_GNU_SOURCE -I server/src \
    --suppress=missingIncludeSystem \
    server/src server/tests || rc=1

echo "-- shellcheck"
# Scripts are found by their #! line, so new ones are never forgotten.
scripts=$(git ls-files -co --exclude-standard | while read -r f; do
	[ -f "$f" ] || continue
	case $(head -c 64 "$f" 2>/dev/null | head -n 1) in
	'#!/bin/sh'*|'#!/bin/bash'*|'#!/usr/bin/env bash'*|'#!/usr/bin/env sh'*)
		echo "$f" ;;
	esac
done)
if [ -n "$scripts" ]; then
	# shellcheck disable=SC2086 # file names have no spaces (checked by git)
	shellcheck -x $scripts || rc=1
fi

echo "-- call and include graphs (no cycle: docs/design.md)"
/usr/bin/python3 ci/callgraph.py --self-test || rc=1
if make -s all >/dev/null; then
	/usr/bin/python3 ci/callgraph.py build/obj server/src || rc=1
else
	echo "lint: make all failed, the call graph needs the objects" >&2
	rc=1
fi

echo "-- function length"
# shellcheck disable=SC2046 # file names have no spaces (checked by git)
/usr/bin/python3 ci/funclen.py 60 $(git ls-files -co --exclude-standard \
    -- 'server/src/*.c') || rc=1

echo "-- systemd unit sandbox (exposure at most 2.0: docs/security.md)"
if command -v systemd-analyze >/dev/null; then
	# --threshold is in tenths: 20 = 2.0. --offline reads the file alone.
	systemd-analyze security --offline=yes --threshold=20 \
	    server/debian/xmppd.service >/dev/null 2>&1 || {
		echo "lint: xmppd.service's exposure is above 2.0:" >&2
		systemd-analyze security --offline=yes \
		    server/debian/xmppd.service 2>&1 | tail -n 1 >&2
		rc=1
	}
	systemd-analyze security --offline=yes server/debian/xmppd.service \
	    2>/dev/null | tail -n 1
else
	echo "lint: systemd-analyze missing (package systemd)" >&2
	rc=1
fi

echo "-- pyflakes"
pyfiles=$(git ls-files -co --exclude-standard -- '*.py')
if [ -n "$pyfiles" ]; then
	# shellcheck disable=SC2086 # file names have no spaces (checked by git)
	/usr/bin/python3 -m pyflakes $pyfiles || rc=1
fi

if [ $rc -eq 0 ]; then echo "lint: clean"; fi
exit $rc
