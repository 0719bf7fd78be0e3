"""Pure simulation models shared by the synthetic feed and the producer simulator."""
