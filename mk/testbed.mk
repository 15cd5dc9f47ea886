# mk/testbed.mk: the QEMU testbed (docs/testbed.md), included
# by the top Makefile. Needs root, /dev/net/tun and qemu-system-x86.
#   make testbed-image   the image for the testbed: `make image` with the
#                        testbed's domain, in build/testbed/image (rebuilt
#                        when the xmppd .deb is newer)
#   make testbed-test    the core scenarios with the server's mam-default
#                        always, link-cut and server-crash again with
#                        never, and 2 minutes of chaos with never (CI)
#   make testbed-full    every scenario with always and with never, chaos
#                        10 minutes each
#   make testbed-down    remove whatever a killed run left (idempotent)
# Scenarios tear the network and the VM down themselves, also on failure;
# the targets call testbed-down once more whatever happened. A name with
# -never runs that scenario with mam-default never (docs/testbed.md).
# Variables: TB_DOMAIN (xmpp.test), TB_SCENARIOS (run these instead),
# TB_SEED (replay a chaos run), TB_CHAOS_SECONDS (120 in testbed-test,
# 600 in testbed-full).
TB		:= testbed/tb
TB_DOMAIN	?= xmpp.test
TB_IMAGE_DIR	:= $(BUILD)/testbed/image
TB_CORE		:= baseline link-cut half-open server-crash resume-families
TB_ALL		:= $(TB_CORE) reset-storm lossy-link vm-poweroff chaos
# What CI runs: running every core scenario twice would not fit its time.
TB_TEST		:= $(TB_CORE) link-cut-never server-crash-never chaos-never
TB_FULL		:= $(foreach s,$(TB_ALL),$(s) $(s)-never)
export TB_DOMAIN TB_IMAGE_DIR

# The stage-1 root tree of `make image` is shared when it exists (a
# hard link: same key, same contents), so the testbed image costs only
# the configure and disk stages.
testbed-image: image-deb
	@deb=$$(ls $(BUILD)/deb/xmppd_*.deb | head -n 1); \
	img=$(TB_IMAGE_DIR)/xmppd-bookworm.qcow2; \
	if [ -f "$$img" ] && [ ! "$$deb" -nt "$$img" ] && \
	    [ "$$(cat $(TB_IMAGE_DIR)/DOMAIN 2>/dev/null)" = "$(TB_DOMAIN)" ]; then \
		echo "testbed image up to date: $$img"; exit 0; fi; \
	mkdir -p $(TB_IMAGE_DIR)/cache; \
	for t in $(BUILD)/image/cache/rootfs-*.tar; do \
		[ -f "$$t" ] && ln -f "$$t" $(TB_IMAGE_DIR)/cache/ || true; done; \
	$(MAKE) image IMAGE_DIR=$(TB_IMAGE_DIR) DOMAIN=$(TB_DOMAIN) && \
	echo $(TB_DOMAIN) >$(TB_IMAGE_DIR)/DOMAIN

testbed-test: testbed-image
	TB_CHAOS_SECONDS=$${TB_CHAOS_SECONDS:-120} \
	    $(TB) scenario $(or $(TB_SCENARIOS),$(TB_TEST)); \
	rc=$$?; $(TB) down; exit $$rc

testbed-full: testbed-image
	TB_CHAOS_SECONDS=$${TB_CHAOS_SECONDS:-600} \
	    $(TB) scenario $(or $(TB_SCENARIOS),$(TB_FULL)); \
	rc=$$?; $(TB) down; exit $$rc

testbed-down:
	$(TB) down

.PHONY: testbed-image testbed-test testbed-full testbed-down
