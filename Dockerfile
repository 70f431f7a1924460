# chaos-node-agent container image.
#
# Build: docker build -t chaos-node-agent:0.1.0 .
# Without registry access, scripts/build-image.sh builds a local stand-in for the Node base image
# (Debian bookworm minbase + Node 20 in /usr/local, the layout of the official node:*-bookworm-slim images)
# and passes it as NODE_IMAGE; it uses the legacy builder, so this file needs no BuildKit-only syntax.
#
# Runs as root, with the capabilities the DaemonSet adds (SYS_ADMIN, SYS_PTRACE, NET_ADMIN, NET_RAW) and
# nothing else: setns(2) into another pod's network namespace and the iptables/ipset netlink reads check
# capabilities of uid 0 in the init user namespace, so a non-root user would need file capabilities on
# nsenter/xtables binaries (which allowPrivilegeEscalation=false then blocks). See README.md, "Deploy".
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript with the dev dependencies ---------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json rolldown.config.mjs ./
COPY agent ./agent
COPY bin ./bin
COPY scripts/code-cache.mjs ./scripts/
# The bundle's V8 code cache (bin/code-cache.js) is made here, by the same Node as the runtime stage's, with the
# ENTRYPOINT's flags: read-only at run time.
RUN npx tsc -p tsconfig.json && npx rolldown -c rolldown.config.mjs && node scripts/code-cache.mjs

# ---- prod-deps: production dependencies only -----------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="chaos-node-agent" \
      org.opencontainers.image.description="Per-node Kubernetes agent: reads every pod's network namespace over netlink (nsenter and the tools as fallback) and the chaos processes in /proc, recognises chaos-engineering injections and exports them as Prometheus metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="chaos-node-agent"
# iptables ships both backends (iptables-legacy-save and iptables-nft-save); util-linux has nsenter.
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update \
 && apt-get install -y --no-install-recommends iptables ipset iproute2 util-linux nftables ebtables \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt /var/log/dpkg.log
WORKDIR /app
ENV NODE_ENV=production
# glibc malloc tunables the agent ships with (bin/node-flags.js MALLOC_ENV: 2 arenas, large blocks back to the kernel).
ENV MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
COPY package.json ./
COPY bin ./bin
COPY protos ./protos
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist/agent ./dist/agent
COPY --from=build /src/dist/bundle ./dist/bundle
# Root on purpose (see the header); the DaemonSet drops every other capability.
USER 0:0
EXPOSE 9766
ENTRYPOINT ["node", "--max-semi-space-size=1", "--max-old-space-size=256", "--no-memory-reducer", "--single-threaded-gc", "/app/bin/chaos-node-agent.js"]
CMD ["serve"]
