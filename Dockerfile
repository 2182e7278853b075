# syntax=docker/dockerfile:1
# The operator's image. Node 24 runs the TypeScript in src/ directly (type stripping), so
# there is no build step: one stage installs the production dependencies, the other runs.
# Non-root, and nothing is written at run time outside /tmp, so it runs with a read-only
# root filesystem (the Helm chart mounts /tmp as an emptyDir). Pin the base image by digest
# in your build (--build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:...).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- dependencies: production only. The repository's devDependency `node` (Node 24 for
# development machines) is not installed: the base image's Node 24 runs the operator.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency of the operator needs an install script.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts

# --- runtime
FROM ${NODE_IMAGE} AS runtime
# The package managers are not needed at run time: less to patch, less to exploit.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
WORKDIR /app
# Memory: the Helm chart's defaults (nodeOptions, mallocArenaMax, mallocThresholdBytes), so
# a plain `docker run` keeps RSS as low as a chart install; the chart's env overrides them.
# The old generation's growth cap is set by src/main.ts itself (ROSTER_HEAP_GROWING_PERCENT).
ENV NODE_ENV=production \
    TMPDIR=/tmp \
    NODE_OPTIONS=--max-semi-space-size=8 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
# Owned by root and not writable by the user the operator runs as.
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --chown=0:0 package.json ./
COPY --chown=0:0 crds ./crds
COPY --chown=0:0 src ./src
LABEL org.opencontainers.image.title="roster" \
      org.opencontainers.image.description="Kubernetes operator that turns declarative team manifests into real access" \
      org.opencontainers.image.licenses="Apache-2.0"
# 65532 ("nonroot" in distroless): the Helm chart's runAsUser.
USER 65532:65532
# probes and metrics, the accept page, the admission webhook (HTTPS)
EXPOSE 8080 8081 9443
# The same command the tests run: node src/main.ts --config <file>.
ENTRYPOINT ["node", "src/main.ts"]
CMD ["--config", "/etc/roster/config.yaml"]
