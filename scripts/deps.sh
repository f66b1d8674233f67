#!/usr/bin/env bash
# Install what arrayfs needs to build and test on Debian 12, if missing.
# Sourced by scripts/test.sh and scripts/demo.sh; no product logic here.
arfs_packages=(build-essential cmake pkg-config libfuse3-dev fuse3 libzstd-dev
	liblz4-dev libjansson-dev libcmocka-dev libpng-dev rsync python3 file attr
	zstd lz4 valgrind clang libclang-rt-14-dev python3-numpy python3-pandas
	python3-pil jq)

arfs_install_deps() {
	local missing=() p sudo=""
	for p in "${arfs_packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "Installing: ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}
