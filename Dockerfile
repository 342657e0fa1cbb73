# One image for every dcnet service: `docker run dcnet run <service>`.
# Legacy-builder compatible (no BuildKit features).
FROM node:20-bookworm-slim AS build
# clang builds l4lb's socket LB program (services/l4lb/bpf/sock-lb.c) here, so the image needs only bpftool to load it,
# and the DNS listener's batched UDP module (packages/dns/native/udp_batch.c) against Node's headers: the official image
# has them in /usr/local/include/node; where they are missing (the offline stand-in), Debian's libnode-dev gives Node-API
# headers in /usr/include/node (Node-API is ABI-stable: a module built against them loads in Node 20).
RUN apt-get update \
 && headers="$(test -e /usr/local/include/node/node_api.h || echo libnode-dev)" \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang linux-libc-dev libc6-dev $headers \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN clang -O2 -g -target bpf -I/usr/include/$(uname -m)-linux-gnu -c services/l4lb/bpf/sock-lb.c -o services/l4lb/bpf/sock-lb.o \
 && CC=clang DCNET_REQUIRE_NATIVE=1 node packages/dns/native/build.mjs \
 && npm ci --ignore-scripts --no-audit --no-fund \
 && npx tsc -b packages/cli \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf bench e2e .ci

FROM node:20-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 nftables conntrack haproxy dnsmasq-base bpftool curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
RUN chmod +x /app/packages/cli/dist/main.js && ln -s /app/packages/cli/dist/main.js /usr/local/bin/dcnet
ENV NODE_ENV=production
ENTRYPOINT ["dcnet"]
CMD ["run", "node"]
