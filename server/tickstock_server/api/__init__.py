"""The gRPC edge: servicers, interceptors and the only conversions between protos and domain values."""
