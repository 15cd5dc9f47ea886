# mk/deb.mk: the Debian package (docs/package.md), included by the top
# Makefile.
#   make deb      build build/deb/xmppd_<version>_<arch>.deb (and .buildinfo,
#                 .changes) with dpkg-buildpackage from a copy of server/
#                 and fixtures/ (the packaged xmppd.conf, the tests' data)
#   make lintian  run lintian on what `make deb` built
# The copy keeps the working tree clean and gives every build the same path,
# so two builds of one commit give the same .deb (SOURCE_DATE_EPOCH comes
# from debian/changelog).
DEB_DIR		:= $(BUILD)/deb
DEB_VERSION	:= $(shell dpkg-parsechangelog -l server/debian/changelog -S Version 2>/dev/null)
DEB_ARCH	:= $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB_SRC		:= $(DEB_DIR)/xmppd-$(DEB_VERSION)
DEB_FILE	:= $(DEB_DIR)/xmppd_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_CHANGES	:= $(DEB_DIR)/xmppd_$(DEB_VERSION)_$(DEB_ARCH).changes

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)
	cp -a server/. $(DEB_SRC)/
	cp -a fixtures $(DEB_SRC)/	# the conffile and the unit tests' data
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_SRC)
	@ls -l $(DEB_DIR)/*.deb

# Tags that remain are explained in docs/package.md; --fail-on warning
# makes any new warning or error fail the target.
lintian:
	test -f $(DEB_CHANGES) || $(MAKE) deb
	lintian --info --display-info --pedantic --fail-on error,warning \
	    $(DEB_CHANGES)

.PHONY: deb lintian
