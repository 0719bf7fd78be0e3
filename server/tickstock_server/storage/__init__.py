"""PostgreSQL storage: connection pool, schema migrations and the stores built on them."""
