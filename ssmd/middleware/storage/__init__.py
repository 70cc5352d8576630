"""Objects: one fsspec-backed implementation for memory://, local folders and s3://."""
