#!/bin/sh
# The README's test command (`make test`): lint, the unit suites under
# ASan+UBSan, then the integration tests against the real daemon. Every
# stage runs even if an earlier one failed, so one red run shows all that
# is wrong. The last line is "N passed, N failed" over all stages.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
out=build/test
mkdir -p "$out"
passed=0
failed=0

count() {	# count PASSED FAILED [SKIPPED]
	passed=$((passed + $1))
	failed=$((failed + $2))
	skipped=$((skipped + ${3:-0}))
}

# A stage with no finer-grained count of its own is one test.
stage() {	# stage NAME command...
	name=$1
	shift
	echo "== $name"
	if "$@"; then
		count 1 0
	else
		echo "FAILED: $name" >&2
		count 0 1
	fi
}

# libcheck prints "NN%: Checks: C, Failures: F, Errors: E" per suite. It
# has no skip: a test that cannot run here prints "SKIPPED: test: why"
# (server/tests/check_main.h) and returns, which libcheck counts as a
# pass, so each such line moves one test from passed to skipped.
unit() {
	echo "== unit tests (ASan+UBSan)"
	make -C server O="$root/build" SAN=1 all tests >"$out/unit-build.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		cat "$out/unit-build.log" >&2
		echo "FAILED: building the unit tests" >&2
		count 0 1
		return
	fi
	make -C server O="$root/build" SAN=1 unit 2>&1 | tee "$out/unit.log"
	sums=$(sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' \
	    "$out/unit.log" | awk '{c+=$1; f+=$2+$3} END {print c-f+0, f+0}')
	uskip=$(grep -c '^SKIPPED: ' "$out/unit.log")
	# shellcheck disable=SC2086 # two numbers
	set -- $sums
	count $(($1 - uskip)) "$2" "$uskip"
	# A suite that crashed before printing its summary still fails.
	if grep -q 'make.*Error' "$out/unit.log" && [ "${sums#* }" = 0 ]; then
		count 0 1
	fi
}

# pytest NAME DIR: one pytest run, counted from its JUnit report.
pytest_stage() {
	name=$1
	dir=$2
	report="$out/$name.xml"
	rm -f "$report"
	XMPPD="$root/build/asan/xmppd" XMPPCTL="$root/build/asan/xmppctl" \
	    /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	    --junitxml="$report" "$dir"
	if [ ! -s "$report" ]; then
		echo "FAILED: pytest produced no report for $dir" >&2
		count 0 1
		return
	fi
	# shellcheck disable=SC2046 # three numbers
	count $(/usr/bin/python3 ci/junit-count.py "$report")
}

# Every unit suite of the normal build once more under valgrind.
valgrind_stage() {
	echo "== unit tests under valgrind"
	make -C server O="$root/build" valgrind 2>&1 | tee "$out/valgrind.log"
	ok=$(grep -c '^valgrind: .* ok$' "$out/valgrind.log")
	bad=$(grep -c '^valgrind: .* FAILED$' "$out/valgrind.log")
	if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
		bad=1		# did not even build
	fi
	count "$ok" "$bad"
}

integration() {
	echo "== integration tests (real daemon, real clients)"
	pytest_stage integration server/tests/integration
	echo "== testbed tools (client, loss checker, fault proxy)"
	pytest_stage testbed-tools testbed/tests
}

# The appliance: the package and its lintian check, the
# ansible role (lint, and applied twice to a chroot: changed=0), the
# image built with debootstrap and booted under QEMU both ways. Each make
# target is one test. debootstrap and QEMU need root.
appliance() {
	echo "== appliance: package, ansible role, image, boot tests"
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIPPED: appliance (not root: debootstrap needs it)" >&2
		skipped=$((skipped + 7))
		return
	fi
	for target in deb lintian ansible-lint ansible-test image \
	    image-boot-test image-boot-test-bootloader; do
		t0=$(date +%s)
		stage "make $target" make "$target"
		echo "make $target: $(($(date +%s) - t0)) s"
	done
}

# The QEMU testbed's core scenarios (make testbed-test), one test each.
# It needs root, /dev/net/tun and QEMU; without them it is skipped,
# loudly, and counted as skipped.
testbed() {
	echo "== testbed: core scenarios on the image under QEMU"
	why=
	if [ "$(id -u)" -ne 0 ]; then why="not root"
	elif [ ! -c /dev/net/tun ]; then why="no /dev/net/tun"
	elif ! command -v qemu-system-x86_64 >/dev/null; then why="no QEMU"
	fi
	if [ -n "$why" ]; then
		echo "SKIPPED: testbed ($why): make testbed-test did not run" >&2
		skipped=$((skipped + 5))
		return
	fi
	t0=$(date +%s)
	make testbed-test 2>&1 | tee "$out/testbed.log"
	echo "testbed: wall time $(($(date +%s) - t0)) s"
	tp=$(grep -c '^scenario [a-z-]*: PASS' "$out/testbed.log")
	tf=$(grep -c '^scenario [a-z-]*: FAIL' "$out/testbed.log")
	count "$tp" "$tf"
	# Image or network set-up failed before any scenario ran.
	if [ $((tp + tf)) -eq 0 ]; then
		echo "FAILED: testbed ran no scenario" >&2
		count 0 1
	fi
}

skipped=0
stage "lint" ci/lint.sh
unit
valgrind_stage
integration
appliance
testbed

# CI installs everything the tests need (ci/install-deps.sh) and runs as
# root: there a skipped test means something did not run that should
# have, so it fails the run instead of hiding behind a pass.
if [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ]; then
	echo "FAILED: $skipped tests skipped in CI (see the SKIPPED lines)" >&2
	failed=$((failed + 1))
fi
# CI reads this exact last line.
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
