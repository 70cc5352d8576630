"""The four backend interfaces (transport, storage, cache, journal) and their
implementations, chosen by the environment file through ``ssmd.middleware.factory``.

Each interface is a small Protocol in ``<kind>/base.py``. Embedded implementations
(memory bus, local files, local cache file, file journal) import nothing heavy; the
distributed ones (NATS JetStream, S3, Redis) are imported lazily by the factory.
May import: ssmd.errors, ssmd.config, ssmd.retry, ssmd.log, ssmd.metrics, ssmd.subjects.
"""
