# xmppd: the one entry point (README.md lists every target). Output goes
# under build/.
#   make            build build/xmppd and build/xmppctl
#   make test       everything CI runs (ci/test.sh): lint, unit suites,
#                   integration, appliance and testbed
#   make run        xmppd in the foreground on the development defaults
#   make lint       cppcheck, shellcheck, call-graph cycles, pyflakes
#   make fuzz       the libFuzzer harnesses, FUZZ_SECONDS each
BUILD	:= $(CURDIR)/build
PYTHON	:= /usr/bin/python3
SERVER	:= $(MAKE) -C server O=$(BUILD)

all:
	$(SERVER) all

check unit:
	$(SERVER) check

integration: all
	$(SERVER) SAN=1 all
	XMPPD=$(BUILD)/asan/xmppd $(PYTHON) -m pytest -q -p no:cacheprovider \
	    server/tests/integration

test:
	ci/test.sh

run: all
	$(BUILD)/xmppd -D -d

lint:
	ci/lint.sh

fuzz:
	$(SERVER) fuzz

valgrind:
	$(SERVER) valgrind

# A killed image build may have left its chroot mounts under build/.
clean:
	image/umount-below.sh $(BUILD)
	rm -rf --one-file-system $(BUILD)

.PHONY: all check unit integration test run lint fuzz valgrind clean

# Appliance, testbed and benchmark targets live in their own files.
include $(wildcard mk/*.mk)
