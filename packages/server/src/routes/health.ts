import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/index.ts';
import type { ServerMetrics } from '../metrics.ts';

export function healthRoutes(app: FastifyInstance, db: Db, metrics: ServerMetrics): void {
  // Touches the database so a load balancer stops routing to a server that lost it.
  app.get('/healthz', async () => {
    await db.query('SELECT 1');
    return { status: 'ok' };
  });
  // Prometheus text format. Labels carry no tenant, user or request ids (see metrics.ts).
  app.get('/metrics', async (_request, reply) => {
    const { registry } = metrics;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });
}
