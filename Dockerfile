# lbaas-topology for a network node. Build: docker build -t lbaas-topology .
# Runs as root with only the capabilities docker-compose.yml grants (see the notes there).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json binding.gyp ./
COPY src/native ./src/native
# better-sqlite3 12 compiles here (python3, make and g++ are in the full node image), and so does
# the netlink addon (binding.gyp → build/Release; without it the product reads namespaces with ip).
RUN npm ci --omit=dev --no-audit --no-fund && mkdir -p build/Release

FROM node:20-bookworm-slim
# iproute2 for `ip -n NS -batch`, openvswitch-switch only for its ovs-vsctl client (no daemon runs here).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 openvswitch-switch \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build/Release ./build/Release
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY schema ./schema
COPY examples ./examples
ENV LBTOPO_DB=/data/topology.sqlite \
    LBTOPO_LISTEN=127.0.0.1:4000
VOLUME /data
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://'+(process.env.LBTOPO_LISTEN||'127.0.0.1:4000')+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/app/bin/lbtopo"]
CMD ["serve"]
