#!/bin/bash
# umount-below.sh DIR: unmount everything mounted at or below DIR, deepest
# first. A build killed mid-way (SIGKILL, a lost session) cannot run its
# own cleanup and leaves the chroot's proc, sys and dev mounted; an
# `rm -rf` of the tree would then walk into them. Every place that
# removes a build tree calls this first (lib.sh rmtree, make clean).
set -euo pipefail

dir=${1:?usage: umount-below.sh DIR}
[[ -e $dir ]] || exit 0
dir=$(cd "$dir" && pwd -P)

# /proc/self/mounts escapes blanks as \040; build paths have none.
mapfile -t below < <(awk -v d="$dir" \
    '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts |
    sort -r -u)
for m in "${below[@]}"; do
	echo "umount-below.sh: unmounting leftover $m" >&2
	umount "$m" 2>/dev/null || umount -l "$m"
done
