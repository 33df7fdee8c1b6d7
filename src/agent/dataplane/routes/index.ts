// IPAM routes on the node: a driver that owns only the routes carrying Tabby's route
// protocol, and the dataplane that keeps them equal to the routing calculation.

export {
  RouteApplyError,
  type RouteApplyResult,
  type RouteDriverOptions,
  RouteDriverOptionsError,
  type RouteFailure,
  RouteReadError,
  RouteTableDriver,
} from './driver.js';
export {
  deleteLine,
  diffRoutes,
  type KernelRoute,
  normaliseDst,
  parseBatchFailures,
  parseIpRouteJson,
  type RouteDiff,
  RouteSpecError,
  replaceLine,
  routeMatches,
  TABBY_ROUTE_PROTOCOL,
} from './ip-route.js';
export { RouteDataplane, type RouteDataplaneOptions } from './manager.js';
