# Ledgerbridge worker and gateway image (production-like stack: docker-compose.yml).
# The build context leaves out the simulators, tests and benchmarks (.dockerignore), and tsconfig.build.json compiles
# only the production entry points and what they import; the final stage takes the compiled output and the
# production dependencies, nothing else.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# The same image runs either process: `node dist/workers/main.js` or `node dist/src/gateway/main.js`
# (and the CLI for key bootstrap: `node dist/src/cli/main.js keys create --direct`).
CMD ["node", "dist/workers/main.js"]
