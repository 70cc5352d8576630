"""Append-only journal: file (JSONL segments), memory, or a JetStream stream."""
