#!/bin/sh
# meson install script: copy the example configuration $1 to $2 unless $2
# exists (both absolute; under DESTDIR when meson stages an install).
set -eu
src=${DESTDIR:-}$1
dst=${DESTDIR:-}$2
if [ -e "$dst" ]; then
	echo "install-conf: keeping $dst"
	exit 0
fi
mkdir -p "$(dirname "$dst")"
cp "$src" "$dst"
chmod 0644 "$dst"
echo "install-conf: $dst from the example"
