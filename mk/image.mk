# mk/image.mk: the appliance image and the ansible role (docs/image.md,
# docs/deploy.md), included by the top Makefile. All need root
# (debootstrap, chroot).
#   make image                      build/image/xmppd-bookworm.qcow2, vmlinuz,
#                                   initrd.img, cmdline, manifest.txt, SHA256SUMS
#   make image-repro                build a second time, pinned to the first
#                                   build's manifest; the sha256s must match
#   make image-boot-test            boot from kernel+initrd, log in, power down
#   make image-boot-test-bootloader the same through the disk's own SYSLINUX
#   make ansible-test               apply the role twice to a chroot: changed=0
#   make ansible-lint               ansible-lint on ansible/
# Variables: MIRROR, SECURITY_MIRROR (default: this machine's apt sources),
# SOURCE_DATE_EPOCH (default: the last commit), NO_CACHE=1 (re-run
# debootstrap), DOMAIN, NET_MODE=static|dhcp, NET_IPV4, NET_IPV6, NET_GW4,
# NET_GW6, NET_DNS; IMAGE_DEB to use a given .deb instead of `make deb`'s.
IMAGE_DIR	:= $(BUILD)/image
IMAGE_QCOW2	:= $(IMAGE_DIR)/xmppd-bookworm.qcow2
# The package `make deb` made (built first when there is none yet).
IMAGE_DEB	?= $$(ls $(BUILD)/deb/xmppd_*.deb | head -n 1)

image-deb:
	ls $(BUILD)/deb/xmppd_*.deb >/dev/null 2>&1 || $(MAKE) deb

image: image-deb
	image/build.sh "$(IMAGE_DEB)" $(IMAGE_DIR)

image-repro: image-deb
	test -f $(IMAGE_QCOW2) || $(MAKE) image
	image/repro.sh $(IMAGE_DIR) $(BUILD)/image-repro "$(IMAGE_DEB)"

image-boot-test:
	test -f $(IMAGE_QCOW2) || $(MAKE) image
	image/boot-test.sh direct $(IMAGE_DIR)

image-boot-test-bootloader:
	test -f $(IMAGE_QCOW2) || $(MAKE) image
	image/boot-test.sh bootloader $(IMAGE_DIR)

ansible-test: image-deb
	image/ansible-test.sh "$(IMAGE_DEB)" $(BUILD)/ansible-test

ansible-lint:
	cd ansible && ansible-lint --offline

.PHONY: image-deb image image-repro image-boot-test \
	image-boot-test-bootloader ansible-test ansible-lint
