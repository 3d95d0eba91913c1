# syntax=docker/dockerfile:1
#
# clusterdns: a CoreDNS-compatible cluster DNS server.
#
#   docker build -t clusterdns .
#   printf '.:53 {\n  health\n  forward . 1.1.1.1\n  cache 30\n}\n' > Corefile
#   docker run --rm -p 1053:53/udp -v "$PWD/Corefile:/etc/coredns/Corefile:ro" clusterdns
#   docker build --target node-local -t clusterdns-node-local .   (the per-node cache)
#
# The Corefile comes from a mount at /etc/coredns (the CoreDNS ConfigMap
# mount works as is); the image ships none, so a missing mount fails loudly.
#
# Port 53 as a non-root user: the image runs as UID 1000 with no capability
# at all and relies on the kernel letting unprivileged processes bind low
# ports, i.e. the network-namespaced sysctl
#     net.ipv4.ip_unprivileged_port_start=0   (covers IPv6 too)
# Docker (20.10+) sets it in every container by default. On Kubernetes set it
# in the pod's securityContext.sysctls (a "safe" sysctl since 1.22, allowed
# by every kubelet without flags): see deploy/deployment.yaml. We chose this
# over NET_BIND_SERVICE + `setcap` on the node binary because file
# capabilities are ignored under no_new_privs, which
# allowPrivilegeEscalation: false sets, and because a setcap'd node would
# hand the capability to every script it runs.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies (TypeScript), compile src/ to dist/ ----------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: production dependencies only ----------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would run tsc, which is a dev dependency.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

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
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json Corefile.example ./
# `clusterdns` on PATH: package.json's "bin" entry, as `npm install -g` would link it.
RUN chmod 0755 /app/dist/src/cli.js \
 && ln -s /app/dist/src/cli.js /usr/local/bin/clusterdns

# UID/GID 1000 is the image's "node" user; numeric so runAsNonRoot can check it.
USER 1000:1000

# DNS, health (/health), ready (/ready), prometheus (/metrics).
EXPOSE 53/udp 53/tcp 8080/tcp 8181/tcp 9153/tcp

# The slim image has no curl: node's fetch asks the health plugin at its
# default address (`health` or `health :8080`). Kubernetes ignores this and
# uses the Deployment's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["clusterdns"]
CMD ["--conf", "/etc/coredns/Corefile"]
