#!/bin/sh
# Builds the Windows service host with its Event Log message table:
#   windows/build-service-host.sh OUT.exe
# Needs gcc-mingw-w64-x86-64-win32 (x86_64-w64-mingw32-gcc, -windmc, -windres). See docs/windows-service.md.
set -eu
out=${1:?usage: build-service-host.sh OUT.exe}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x86_64-w64-mingw32-windmc -h "$tmp" -r "$tmp" "$here/service-messages.mc"
x86_64-w64-mingw32-windres -i "$tmp/service-messages.rc" -I "$tmp" -o "$tmp/messages.o"
x86_64-w64-mingw32-gcc -O2 -s -municode -Wall -Wextra -o "$out" "$here/service-host.c" "$tmp/messages.o" -ladvapi32
