// One grpc-web transport through Envoy and a typed client per service. Every call carries the current
// session token; an UNAUTHENTICATED answer tells the session, which then asks the user to sign in.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/tickstock/v1/auth_service_pb.js";
import { BacktestService } from "./gen/tickstock/v1/backtest_service_pb.js";
import { EventService } from "./gen/tickstock/v1/event_service_pb.js";
import { MarketDataService } from "./gen/tickstock/v1/market_data_service_pb.js";
import { PatternService } from "./gen/tickstock/v1/pattern_service_pb.js";
import { UniverseService } from "./gen/tickstock/v1/universe_service_pb.js";

export interface Api {
  readonly auth: Client<typeof AuthService>;
  readonly events: Client<typeof EventService>;
  readonly market: Client<typeof MarketDataService>;
  readonly patterns: Client<typeof PatternService>;
  readonly universe: Client<typeof UniverseService>;
  readonly backtests: Client<typeof BacktestService>;
}

/** Deadline of unary calls; streams have none (they end by rotation or by the page). */
export const UNARY_TIMEOUT_MS = 15_000;

export function createApi(
  baseUrl: string,
  bearer: () => string,
  onUnauthenticated: (error: ConnectError) => void = () => {},
): Api {
  const authorize: Interceptor = (next) => async (request) => {
    request.header.set("authorization", `Bearer ${bearer()}`);
    try {
      return await next(request);
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (connectError.code === Code.Unauthenticated) onUnauthenticated(connectError);
      throw connectError;
    }
  };
  const transport = createGrpcWebTransport({
    baseUrl,
    interceptors: [authorize],
    defaultTimeoutMs: undefined,
  });
  return {
    auth: createClient(AuthService, transport),
    events: createClient(EventService, transport),
    market: createClient(MarketDataService, transport),
    patterns: createClient(PatternService, transport),
    universe: createClient(UniverseService, transport),
    backtests: createClient(BacktestService, transport),
  };
}
