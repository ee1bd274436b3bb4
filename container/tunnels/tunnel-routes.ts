/** Handlers of /tunnels (worker/protocol/agent.ts): PUT starts or returns, GET lists, DELETE ends. */
import type { TunnelService } from './tunnel-service';
import { json, noContent, type Route } from '../http/router';

export function tunnelRoutes(tunnels: TunnelService): Route[] {
  return [
    { method: 'GET', path: '/tunnels', handler: () => json({ tunnels: tunnels.list() }) },
    { method: 'PUT', path: '/tunnels/:port', handler: async ({ params }) => json(await tunnels.get(params.port)) },
    {
      method: 'DELETE',
      path: '/tunnels/:port',
      handler: async ({ params }) => {
        await tunnels.destroy(params.port);
        return noContent;
      },
    },
  ];
}
