import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/index.ts';

export function healthRoutes(app: FastifyInstance, db: Db): void {
  // Touches the database so a load balancer stops routing to a server that lost it.
  app.get('/healthz', async () => {
    await db.query('SELECT 1');
    return { status: 'ok' };
  });
}
