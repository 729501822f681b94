# lbaas-topology for a network node. Build: docker build -t lbaas-topology .
# Runs as root with only the capabilities docker-compose.yml grants (see the notes there).
#
# BASE_IMAGE is any Debian image with Node 24 in /usr/local (the official node images' layout,
# headers included): docker build --build-arg BASE_IMAGE=registry.example/node:24-bookworm-slim .
# The build needs only the npm and Debian mirrors: the netlink addon (binding.gyp, src/native)
# compiles at `npm ci` against the headers of the Node it will run on (npm_config_nodedir), so
# node-gyp downloads nothing. better-sqlite3 13 ships N-API prebuilds in its npm tarball.
ARG BASE_IMAGE=node:24-bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG NODE_DIR=/usr/local
# node-gyp: python3, make, a C compiler and the kernel's netlink headers (libc6-dev, with g++).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV npm_config_nodedir=${NODE_DIR} \
    npm_config_audit=false \
    npm_config_fund=false
COPY package.json package-lock.json binding.gyp ./
COPY src/native ./src/native
# The package's install script builds the addon into build/Release (without it, the product
# reads namespaces with ip -batch); the directory exists either way for the COPY below.
RUN npm ci && mkdir -p build/Release
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc to dist/, then drop the dev dependencies (TypeScript, the test tools): the image runs JavaScript.
RUN npm run build && npm prune --omit=dev

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="lbaas-topology" \
      org.opencontainers.image.description="GraphQL API over the live topology of an OpenStack load-balancer host" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# iproute2 for `ip -n NS -batch`, openvswitch-switch only for its ovs-vsctl client (no daemon runs here).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 openvswitch-switch \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release ./build/Release
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY schema ./schema
COPY examples ./examples
ENV NODE_ENV=production \
    LBTOPO_DB=/data/topology.sqlite \
    LBTOPO_LISTEN=127.0.0.1:4000 \
    LBTOPO_LOG_FORMAT=json
VOLUME /data
EXPOSE 4000
# /ready: the process answers and its SQLite cache does (with the token when one is set: /ready is behind it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["node", "-e", "const t=process.env.LBTOPO_TOKEN;fetch('http://'+(process.env.LBTOPO_LISTEN||'127.0.0.1:4000')+'/ready',{headers:t?{authorization:'Bearer '+t}:{}}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/app/bin/lbtopo"]
CMD ["serve"]
