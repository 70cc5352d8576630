"""The Cap'n Proto codec of normalized records (``ssmd.records``) on the transport.

``encode(record) -> bytes`` and ``decode(type, bytes) -> record`` are exact inverses
(``decode`` also takes the record itself, which the in-process bus carries, and ``wire``
gives a message's bytes and headers as they leave the process: a record encoded, a raw
line as its frame with its facts as headers);
``fast_decoder(type)`` gives the generated decoder itself for hot loops and ``preload()``
builds every codec up front. Modules:

* ``encoding``  — the public functions: the generated fast path, with the reference as fallback.
* ``layout``    — struct layouts read from the compiled schemas (pure).
* ``codegen``   — encoders and decoders generated from those layouts (pure).
* ``reference`` — pycapnp, one field at a time: what the fast path is checked against.

May import: ``ssmd.records``, ``ssmd.rawline``, ``ssmd.errors``, ``ssmd.resources`` (the schema files) and
pycapnp; nothing that moves bytes (no middleware, no feature package).
"""

from ssmd.codec.encoding import RECORD_CLASSES, decode, encode, fast_decoder, preload, wire
from ssmd.codec.reference import reference_decode, reference_encode

__all__ = ["RECORD_CLASSES", "decode", "encode", "fast_decoder", "preload", "reference_decode",
           "reference_encode", "wire"]
