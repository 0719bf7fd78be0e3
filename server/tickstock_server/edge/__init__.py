"""The browser edge: Envoy translating grpc-web to gRPC and serving the dashboard (config and launcher)."""
