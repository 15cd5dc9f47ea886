# mk/bench.mk: `make bench` (docs/performance.md), included by the top
# Makefile.
#   make xbench      build the load generator build/bench/xbench
#   make bench       xmppd vs Prosody 0.12 vs ejabberd 23.01 (Debian):
#                    installs the peers (root, apt-get), runs every
#                    workload BENCH_RUNS times per server (xmppd's
#                    message and resumption runs also with mam-default
#                    never), writes raw JSON under build/bench/ and the
#                    table to docs/performance.md
#   make bench-xmppd the same for xmppd alone (no root, no apt)
#   make bench-store group commit: spool pushes per second with a commit
#                    every 100 rows and every row (docs/storage.md)
#   make bench-radius logins per second, users file against FreeRADIUS
#                    (docs/auth.md)
# make bench runs the last two as well; they only print their figures.
# The load generator has its own rules here; server/Makefile builds the
# daemon (-O2) it measures.
BENCH_DIR	:= $(BUILD)/bench
BENCH_RUNS	?= 3
XBENCH		:= $(BENCH_DIR)/xbench
XBENCH_SRCS	:= server/bench/xbench.c server/bench/xsess.c \
		   server/src/log.c server/src/xmalloc.c \
		   server/src/expat_nodefer.c
XBENCH_CFLAGS	:= -std=c11 -D_GNU_SOURCE -O2 -g -fstack-protector-strong \
		   -D_FORTIFY_SOURCE=2 -Wall -Wextra -Werror -Wshadow \
		   -Wstrict-prototypes -Wmissing-prototypes -Wcast-qual \
		   -Wformat=2 -Wpointer-arith -Iserver/src \
		   $(shell pkg-config --cflags expat openssl)
XBENCH_LIBS	:= $(shell pkg-config --libs expat openssl) -lm

$(XBENCH): $(XBENCH_SRCS) server/bench/xbench.h mk/bench.mk
	mkdir -p $(BENCH_DIR)
	$(CC) $(XBENCH_CFLAGS) -o $@ $(XBENCH_SRCS) $(XBENCH_LIBS)

xbench: $(XBENCH)

bench-xmppd: all $(XBENCH)
	BENCH_RUNS=$(BENCH_RUNS) server/bench/run.sh xmppd

bench: all $(XBENCH)
	server/bench/install-peers.sh
	BENCH_RUNS=$(BENCH_RUNS) server/bench/run.sh xmppd prosody ejabberd
	$(PYTHON) server/bench/report.py $(BENCH_DIR) docs/performance.md
	$(MAKE) --no-print-directory bench-store
	$(MAKE) --no-print-directory bench-radius

# Linked against the -O2 library the daemon is made of, so it measures
# the store as xmppd runs it. The database goes under build/bench, on the
# disk a checkout lives on: on a tmpfs an fsync costs nothing.
STORE_BENCH	:= $(BENCH_DIR)/store_commit
STORE_BENCH_ROWS ?= 10000
SERVER_PKGS	:= expat openssl sqlite3 libidn libsystemd

$(STORE_BENCH): server/bench/store_commit.c $(BUILD)/libxmppd.a mk/bench.mk
	mkdir -p $(BENCH_DIR)
	$(CC) $(XBENCH_CFLAGS) -o $@ server/bench/store_commit.c \
	    $(BUILD)/libxmppd.a $(shell pkg-config --libs $(SERVER_PKGS))

bench-store: all
	$(MAKE) --no-print-directory $(STORE_BENCH)
	$(STORE_BENCH) -n $(STORE_BENCH_ROWS) $(BENCH_DIR)

# The -O2 daemon and a real FreeRADIUS (Debian's freeradius package).
bench-radius: all
	BENCH_RUNS=$(BENCH_RUNS) XMPPD=$(BUILD)/xmppd \
	    $(PYTHON) server/bench/login_rate.py

.PHONY: xbench bench bench-xmppd bench-store bench-radius
