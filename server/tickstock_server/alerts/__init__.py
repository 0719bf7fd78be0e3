"""Alert subscriptions: the rules, the router that matches patterns, and the per-user alert streams."""
