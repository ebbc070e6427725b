# Ledgerbridge worker and gateway image (production-like stack: docker-compose.yml).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
# The same image runs either process: `node dist/workers/main.js` or `node dist/src/gateway/main.js`.
CMD ["node", "dist/workers/main.js"]
