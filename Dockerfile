# syntax=docker/dockerfile:1
#
# One scrollback replica, built: the `build` stage compiles the server, the
# operator CLI and the widget (`npm run build` -> server/dist/), the `deps`
# stage installs the server's production dependencies, and the runtime stage
# holds those two and runs `node` on the output: no TypeScript, tsx or
# esbuild in the image (test/ops/image.test.ts replays this file).
#
#   docker build -t scrollback .
#   docker run -e AUTH_JWT_SECRET=… -e REDIS_URL=redis://redis:6379 -p 3000:3000 scrollback

# A supported Node.js LTS line (the code also runs on 20.19+ and 22: engines, CI).
ARG NODE_IMAGE=node:24-alpine

# ---- build: every dependency (esbuild, tsx), then npm run build
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first, so this layer is reused until a dependency changes.
COPY package.json package-lock.json tsconfig.json ./
COPY client-sdk/package.json client-sdk/
COPY server/package.json server/
RUN npm ci --no-audit --no-fund
COPY scripts/build.ts scripts/
COPY client-sdk/src client-sdk/src
COPY server/src server/src
RUN npm run build

# ---- deps: the server's production dependencies only (no tsx, esbuild, TypeScript, vitest, browsers)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY server/package.json server/
# The SDK is compiled into the build, so its workspace and socket.io-client stay out.
RUN npm ci --omit=dev --workspace=@scrollback/server --no-audit --no-fund && npm cache clean --force

# ---- runtime: Node, the production dependencies and server/dist; nothing to build or install with
FROM ${NODE_IMAGE} AS runtime
# npm, npx, corepack and yarn are not needed to run, and are less to patch.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    PATH=/app/server/dist/bin:$PATH
WORKDIR /app
# Owned by root and only readable by the app's user: the process cannot rewrite its own code.
# The root package.json gives /metrics its version; server/package.json makes server/dist ES modules.
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/server/package.json server/
COPY --from=build /app/server/dist server/dist
# The image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
# /healthz answers 200 while the process serves (PROTOCOL.md §5). Node's own
# fetch, since the image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# main.js drains on SIGTERM and exits within 10 s. Stack traces name the TypeScript sources (main.js.map).
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "server/dist/main.js"]
