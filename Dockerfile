# syntax=docker/dockerfile:1
#
# clusterdns: a CoreDNS-compatible cluster DNS server.
#
#   docker build --build-arg REVISION="$(git rev-parse --short HEAD)" -t clusterdns .
#   printf '.:53 {\n  health\n  forward . 1.1.1.1\n  cache 30\n}\n' > Corefile
#   docker run --rm -p 1053:53/udp -v "$PWD/Corefile:/etc/coredns/Corefile:ro" clusterdns
#   docker build --target node-local -t clusterdns-node-local .   (the per-node cache)
#
# The image is a drop-in for CoreDNS's in CoreDNS's own Deployment: same
# entrypoint contract (`-conf /etc/coredns/Corefile` as args), same mount
# (/etc/coredns, the `coredns` ConfigMap), and port 53 bound the way
# CoreDNS's image does it: the runtime binary (here: node) carries the file
# capability cap_net_bind_service=+ep, and the Deployment keeps that one
# capability (capabilities: drop ALL, add NET_BIND_SERVICE). This works with
# allowPrivilegeEscalation: false (no_new_privs): the kernel grants file
# capabilities under no_new_privs as long as they stay within what the
# process already holds, and the runtime gives it NET_BIND_SERVICE. Without
# NET_BIND_SERVICE in the bounding set (drop ALL and nothing added) the
# kernel refuses to exec a binary whose +ep capability it cannot grant: the
# container fails to start with "operation not permitted" — as CoreDNS's does.
# A pod that prefers the sysctl net.ipv4.ip_unprivileged_port_start=0 needs
# the capability in its bounding set all the same (or runs this image with
# a port >= 1024: -dns.port 1053).
# test/capability.test.ts runs exactly this (setcap'd node, non-root, only
# CAP_NET_BIND_SERVICE, no_new_privs) in a private network namespace.

# Node.js 24 LTS, pinned to one release (bump with the changelog). For a
# reproducible build pin digests too: NODE_IMAGE=node:24.22.3-bookworm-slim@sha256:…
ARG NODE_VERSION=24.22.3
ARG NODE_IMAGE=node:${NODE_VERSION}-bookworm-slim
# glibc, libstdc++ and CA certificates; no shell, no package manager; nonroot = 65532.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---- build: all dependencies (TypeScript, esbuild), bundle src/ to dist/ --
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json build.mjs ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only ----------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would run tsc, which is a dev dependency.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- node: the binary with the one capability port 53 needs --------------
FROM ${NODE_IMAGE} AS node
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && cp /usr/local/bin/node /node \
 && setcap cap_net_bind_service=+ep /node \
 && getcap /node | grep -q cap_net_bind_service

# ---- node-local: the per-node cache (NodeLocal DNSCache's node-cache) ---
# Build with --target node-local. It sets up an interface and iptables rules,
# so it runs as root (the DaemonSet adds NET_ADMIN) and carries iproute2 and
# both iptables backends; its entrypoint takes node-cache's flags, so the
# NodeLocal DNSCache DaemonSet runs it by swapping the image (deploy/node-local/).
FROM ${NODE_IMAGE} AS node-local
ENV NODE_ENV=production
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 iptables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
RUN chmod 0755 /app/dist/src/cli.js \
 && ln -s /app/dist/src/cli.js /usr/local/bin/clusterdns
EXPOSE 53/udp 53/tcp 8080/tcp 9253/tcp 9353/tcp
ENTRYPOINT ["clusterdns", "node-local"]

# ---- runtime: node, production node_modules, compiled server -------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG NODE_VERSION
ARG VERSION=0.1.0
ARG REVISION=
LABEL org.opencontainers.image.title="clusterdns" \
      org.opencontainers.image.description="Cluster DNS for Kubernetes: a CoreDNS-compatible server in TypeScript" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/clusterdns/clusterdns" \
      org.opencontainers.image.documentation="https://github.com/clusterdns/clusterdns/blob/main/deploy/README.md" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot" \
      io.clusterdns.node.version="${NODE_VERSION}"
ENV NODE_ENV=production \
    CLUSTERDNS_REVISION=${REVISION}
# COPY keeps the security.capability extended attribute (CoreDNS's image relies on the same).
COPY --from=node /node /usr/local/bin/node
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# package.json beside dist: "type": "module", and the version the server reports.
COPY package.json LICENSE ./

# distroless's "nonroot"; numeric so runAsNonRoot can check it.
USER 65532:65532

# DNS, health (/health), ready (/ready), prometheus (/metrics).
EXPOSE 53/udp 53/tcp 8080/tcp 8181/tcp 9153/tcp

# No shell and no curl: node's fetch asks the health plugin at its default
# address (`health` or `health :8080`). Kubernetes ignores this and uses the
# Deployment's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# CoreDNS's Deployment passes only args (`-conf /etc/coredns/Corefile`), so
# the entrypoint is the whole program.
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/src/cli.js"]
CMD ["-conf", "/etc/coredns/Corefile"]
