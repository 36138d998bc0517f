# syntax=docker/dockerfile:1
#
# One scrollback replica. There is no build step: Node runs the TypeScript
# sources through tsx, exactly as `npm start` does, so the image holds the
# production dependencies and the sources of the two workspace packages.
#
#   docker build -t scrollback .
#   docker run -e AUTH_JWT_SECRET=… -e REDIS_URL=redis://redis:6379 -p 3000:3000 scrollback

ARG NODE_IMAGE=node:20.20-alpine

# ---- install: production dependencies only (no TypeScript, vitest, browsers)
FROM ${NODE_IMAGE} AS install
WORKDIR /app
# Manifests first, so this layer is reused until a dependency changes.
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY server/package.json server/
# The CLI's launcher too: npm links `scrollback` into node_modules/.bin only if it exists.
COPY server/src/cli/bin.js server/src/cli/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY client-sdk/src client-sdk/src
COPY server/src server/src

# ---- runtime: Node and the app, nothing to build or install with
FROM ${NODE_IMAGE} AS runtime
# npm, npx, corepack and yarn are not needed to run, and are less to patch.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
# Owned by root and only readable by the app's user: the process cannot rewrite its own code.
COPY --from=install /app /app
# The image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
# /healthz answers 200 while the process serves (PROTOCOL.md §5). Node's own
# fetch, since the image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# main.ts drains on SIGTERM and exits within 10 s.
STOPSIGNAL SIGTERM
CMD ["node", "--conditions=@scrollback/source", "--import", "tsx", "server/src/main.ts"]
