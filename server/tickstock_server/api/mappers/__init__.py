"""The only conversions between domain values and `tickstock.v1` protos: one module per proto file."""
