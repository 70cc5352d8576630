"""Pub/sub with durable replay: in-process memory bus or NATS JetStream."""
