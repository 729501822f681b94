#!/usr/bin/env bash
# Anchor for the bench: what a lean expert shell script does to trace every pool by hand, with
# the same looks the API makes: one OVS dump, one /proc readlink loop (netns + cmdline of every
# process), and one `ip -s -d -j -n NS -batch` per namespace, 4 at once like the API's gateway.
# Usage: lean-trace.sh OVSDB_TARGET NAMESPACE...
set -u
ovsdb=$1; shift
ovs-vsctl --db="$ovsdb" --format=json --data=json -- list Bridge -- list Port -- list Interface >/dev/null
# bash builtins only in the loop: readlink is the one spawn per process, as `find -samefile` would be.
for p in /proc/[0-9]*; do
  readlink "$p/ns/net" && mapfile -d '' argv <"$p/cmdline"
done >/dev/null 2>&1
printf '%s\n' "$@" | xargs -P4 -I{} sh -c 'printf "addr show\nroute show table all\n" | ip -s -d -j -n "$1" -batch - >/dev/null' _ {}
