"""Fast Cap'n Proto codecs generated from struct layouts (``ssmd.codec.layout``).

``compile_encoder`` / ``compile_decoder`` generate, once per binding, a straight-line Python
function around one precompiled ``struct.Struct`` that writes or reads the whole message
prefix in one call; texts and lists of plain structs follow it, in the order the fields are
bound. The generated source is kept on the function as ``.source``.

The encoder writes exactly what pycapnp's ``MallocMessageBuilder`` writes when the same fields
are set in the same order: one segment, objects in allocation order (an optional text or list
bound last costs nothing when absent). A message that would not fit pycapnp's first segment
(1024 words) gives ``None``. The decoder reads only that canonical shape, checking every
pointer's kind and bounds: it raises ``Malformed`` for bytes that break the encoding rules and
``Mismatch`` for legal shapes it does not read (several segments, far pointers, another schema
version), which pycapnp then reads. It builds the object positionally when the class takes
every field that way.
"""

from __future__ import annotations

import inspect
import struct
from collections.abc import Callable
from itertools import starmap
from typing import Any

from ssmd.codec.layout import Binding, Entry, Layout, UnsupportedLayout, element_struct, plan

FIRST_SEGMENT_WORDS = 1024
"""pycapnp's first segment; a bigger message spills into more segments."""

_TEXT_POINTER = 1 | 2 << 32  # list pointer, element size 2 (byte)
_STRUCTS_POINTER = 1 | 7 << 32  # list pointer, element size 7 (composite)
_ZEROS = tuple(b"\0" * (8 - k) for k in range(8))  # NUL plus padding after a text of length % 8 == k
_WORD = struct.Struct("<Q")
_INTEGERS = frozenset("bBhHiIqQ")


class Mismatch(Exception):
    """The bytes are not in the canonical single-segment shape; read them with pycapnp."""


class Malformed(Exception):
    """The bytes break the Cap'n Proto encoding rules (out of bounds, wrong pointer kind, ...)."""


def _build(source: str, namespace: dict[str, Any], name: str, label: str) -> Callable[..., Any]:
    exec(compile(source, f"<{name} {label}>", "exec"), namespace)
    fn: Callable[..., Any] = namespace[name]
    fn.source = source  # type: ignore[attr-defined]
    return fn


def compile_encoder(layout: Layout, b: Binding) -> Callable[[Any], bytes | None]:
    """``encode(obj) -> bytes``, or None when the message would need more than one segment."""
    head, entries = plan(layout, b)
    ns: dict[str, Any] = {"HEAD": head, "ZEROS": _ZEROS, "WORD": _WORD, "starmap": starmap}
    var = {path: f"v{i}" for i, path in enumerate(b.fields)}
    optional = set(b.flags.values())
    lines = [f"    {var[p]} = r.{attr}" for p, attr in b.fields.items()]
    words = 1 + layout.data_words + layout.pointer_count
    pointer_paths = [path for path in b.fields if layout.slots[path].is_pointer]
    # ``w`` (words so far) is a constant up to the first pointer: folded into it when it is required
    known: int | None = words if pointer_paths and pointer_paths[0] not in optional else None
    if known is None:
        lines.append(f"    w = {words}")
    # An optional pointer allocated last gets a branch of its own: when it is None the message
    # simply ends before it (nothing to compute, its presence flag a constant).
    last = pointer_paths[-1] if pointer_paths and pointer_paths[-1] in optional else None
    parts: list[str] = []
    last_body: list[str] = []
    last_parts: list[str] = []
    for path in pointer_paths:
        v, p = var[path], f"p{layout.slots[path].offset}"
        body, own = _pointer(layout, path, v, ns, known)
        known = None
        if path == last:
            last_body, last_parts = body, own
            continue
        if path in optional:
            empty = f"t{v} = z{v} = b''" if layout.slots[path].kind == "text" else f"c{v} = 0"
            lines += [f"    if {v} is None:", f"        {p} = 0", f"        {empty}", "    else:"]
            lines += [f"        {line}" for line in body]
            if layout.slots[path].kind != "text":
                own = [f"(b'' if {v} is None else {x})" for x in own]
        else:
            lines += [f"    {line}" for line in body]
        parts += own

    def finish(indent: str, present: dict[str, bool], message_parts: list[str]) -> list[str]:
        pointers = ["0"] * layout.pointer_count
        for path in pointer_paths:
            if present.get(path, True):
                pointers[layout.slots[path].offset] = f"p{layout.slots[path].offset}"
        data = _data(layout, b, entries, var, optional, ns, present)
        packed = ", ".join(["0", "w", str(layout.root_pointer), *data, *pointers])
        return [f"{indent}if w > {FIRST_SEGMENT_WORDS}:", f"{indent}    return None",
                f"{indent}return b''.join((HEAD.pack({packed}){''.join(f', {x}' for x in message_parts)}))"]

    if last is None:
        lines += finish("    ", {}, parts)
    else:
        lines += [f"    if {var[last]} is None:", *finish("        ", {last: False}, parts)]
        lines += [f"    {line}" for line in last_body]
        lines += finish("    ", {last: True}, parts + last_parts)
    return _build("def encode(r):\n" + "\n".join(lines) + "\n", ns, "encode", b.cls.__name__)


def _pointer(layout: Layout, path: str, v: str, ns: dict[str, Any],
             known: int | None) -> tuple[list[str], list[str]]:
    """The lines allocating one pointer field (text or list of structs) and its message parts;
    ``known`` is the word count so far when it is a constant (then folded in)."""
    s = layout.slots[path]
    after = 2 + layout.data_words + s.offset  # word index following the pointer
    p = f"p{s.offset}"
    if s.kind == "text":
        if known is None:
            offset, grow = f"(w - {after}) << 2 | ", f"w += (n{v} + 8) >> 3"
        else:
            offset, grow = "", f"w = {known} + ((n{v} + 8) >> 3)"
        kind = _TEXT_POINTER if known is None else (known - after) << 2 | _TEXT_POINTER
        return [f"t{v} = {v}.encode()", f"n{v} = len(t{v})", f"{p} = {offset}(n{v} + 1) << 35 | {kind}",
                grow, f"z{v} = ZEROS[n{v} & 7]"], [f"t{v}", f"z{v}"]
    assert s.element is not None
    ew = s.element.data_words
    ns[f"L{v}"] = element_struct(s.element).pack
    if known is None:
        offset, grow, kind = f"(w - {after}) << 2 | ", f"w += 1 + c{v} * {ew}", _STRUCTS_POINTER
    else:
        offset, grow, kind = "", f"w = {known + 1} + c{v} * {ew}", (known - after) << 2 | _STRUCTS_POINTER
    # built only once the message is known to fit: tag word, then the elements
    return ([f"c{v} = len({v})", f"{p} = {offset}(c{v} * {ew}) << 35 | {kind}", grow],
            [f"WORD.pack(c{v} << 2 | {s.element.root_pointer})", f"b''.join(starmap(L{v}, {v}))"])


def _data(layout: Layout, b: Binding, entries: list[Entry], var: dict[str, str], optional: set[str],
          ns: dict[str, Any], present: dict[str, bool]) -> list[str]:
    """The data-section values, in byte order; ``present`` says which optional fields are
    known to be present (True) or absent (False) where the code runs."""
    data: list[str] = []
    for _, _, what in entries:
        if isinstance(what, int):
            data.append(str(what))
        elif isinstance(what, str):
            v, s = var[what], layout.slots[what]
            if s.kind == "enum":
                ns[f"E{v}"] = {n: i for i, n in enumerate(s.enumerants)}
                v = f"E{v}[{v}]"
            if what in optional:  # None is written as 0 (for integers ``or 0`` is the same, and faster)
                v = f"({v} or 0)" if s.kind == "num" and s.fmt in _INTEGERS else f"(0 if {v} is None else {v})"
            data.append(v)
        else:
            terms = []
            for path, bit in what:
                guarded = b.flags.get(path)
                if guarded in present:
                    if present[guarded]:
                        terms.append(str(1 << bit))
                    continue
                guard = f"{var[guarded]} is not None" if guarded is not None else var[path]
                terms.append(f"({1 << bit} if {guard} else 0)")
            data.append(" | ".join(terms) or "0")
    return data


def compile_decoder(layout: Layout, bindings: list[Binding]) -> Callable[[bytes], Any]:
    """``decode(data) -> obj`` for canonical single-segment messages; raises ``Mismatch``
    (or struct.error / UnicodeDecodeError / IndexError on malformed bytes) otherwise."""
    ns: dict[str, Any] = {"Mismatch": Mismatch, "text": _text, "structs": _structs}
    lines: list[str] = []
    if layout.discriminant is not None:
        ns["TAG"] = struct.Struct("<H")
        lines.append(f"    (u,) = TAG.unpack_from(d, {16 + layout.discriminant})")
    for k, b in enumerate(bindings):
        indent = "    "
        if layout.discriminant is not None:
            if b.variant is None:
                raise UnsupportedLayout(f"{layout.name}: binding without a union variant")
            lines.append(f"    if u == {layout.variants[b.variant]}:")
            indent = "        "
        head, entries = plan(layout, b, pointer_format="iI")
        ns[f"HEAD{k}"], ns[f"C{k}"] = head, b.cls
        expr: dict[str, str] = {}
        names = []
        for j, (_, _, what) in enumerate(entries):
            names.append(f"h{j}")
            if isinstance(what, str):
                s = layout.slots[what]
                if s.kind == "enum":
                    ns[f"E{k}_{j}"] = s.enumerants
                expr[what] = f"E{k}_{j}[h{j}]" if s.kind == "enum" else f"h{j}"
            elif isinstance(what, list):
                for path, bit in what:
                    expr[path] = f"(h{j} & {1 << bit} != 0)"
        for s in layout.slots.values():
            if s.is_pointer and s.path in b.fields:
                after = 8 * (3 + layout.data_words + s.offset)  # byte following the pointer
                if s.kind == "text":
                    expr[s.path] = f"text(d, {after}, p{s.offset}, q{s.offset}, end, {s.path!r})"
                else:
                    assert s.element is not None
                    ns[f"L{k}_{s.offset}"] = element_struct(s.element)
                    expr[s.path] = (f"structs(d, {after}, p{s.offset}, q{s.offset}, end, {s.path!r}, L{k}_{s.offset}, "
                                    f"{s.element.root_pointer})")
        for flag, guarded in b.flags.items():
            expr[guarded] = f"({expr[guarded]} if {expr[flag]} else None)"
        pointers = [f"{half}{i}" for i in range(layout.pointer_count) for half in "pq"]
        lines += [f"{indent}segs, words, root, {', '.join(names + pointers)} = HEAD{k}.unpack_from(d)",
                  f"{indent}end = len(d)",
                  f"{indent}if segs or root != {layout.root_pointer} or end != 8 + 8 * words:",
                  f"{indent}    raise Mismatch('not a canonical single-segment {layout.name}')",
                  f"{indent}return C{k}({_arguments(b.cls, {a: expr[p] for p, a in b.fields.items()})})"]
    if layout.discriminant is not None:
        lines.append("    raise Mismatch(f'union tag {u}')")
    return _build("def decode(d):\n" + "\n".join(lines) + "\n", ns, "decode", layout.name)


def _arguments(cls: type, values: dict[str, str]) -> str:
    """The constructor arguments of ``cls``: positional in field order when it takes every field
    that way (cheaper, and CPython passes more than 15 keywords through a dict), else keywords."""
    params = list(inspect.signature(cls).parameters.values())
    if {p.name for p in params} == set(values) and all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params):
        return ", ".join(values[p.name] for p in params)
    return ", ".join(f"{name}={value}" for name, value in values.items())


def _list_kind(pointer: int, path: str, element_size: int) -> None:
    """Raise why ``pointer`` is not a list of ``element_size`` (far pointers are legal)."""
    if pointer & 3 == 2:
        raise Mismatch(f"{path}: far pointer")
    if pointer & 3 != 1:
        raise Malformed(f"{path}: not a list pointer")
    if (pointer >> 32) & 7 != element_size:
        raise (Mismatch if element_size == 7 else Malformed)(f"{path}: list of another element size")


def _text(d: bytes, after: int, lo: int, hi: int, end: int, path: str) -> str:
    """The text a pointer (signed low half ``lo``, high half ``hi``) points at, ``after``
    being the byte following the pointer."""
    start = after + (lo >> 2) * 8  # lo >> 2: the signed word offset
    stop = start + (hi >> 3) - 1  # hi >> 3: the byte count, NUL included
    if lo & 3 == 1 and hi & 7 == 2 and 8 <= start <= stop < end and not d[stop]:
        try:
            return d[start:stop].decode()
        except UnicodeDecodeError as exc:
            raise Malformed(f"{path}: text is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not lo and not hi:
        return ""
    _list_kind(lo & 0xFFFF_FFFF | hi << 32, path, 2)
    if start < 8 or stop >= end:
        raise Malformed(f"{path}: text out of bounds")
    raise Malformed(f"{path}: text not NUL-terminated")


def _structs(d: bytes, after: int, lo: int, hi: int, end: int, path: str, element: struct.Struct,
             tag: int) -> tuple[tuple[Any, ...], ...]:
    """The elements of a composite list of plain structs, each a tuple of its fields."""
    if not lo and not hi:
        return ()
    if lo & 3 != 1 or hi & 7 != 7:
        _list_kind(lo & 0xFFFF_FFFF | hi << 32, path, 7)
    size = 8 * (hi >> 3)
    start = after + (lo >> 2) * 8
    if start < 8 or start + 8 + size > end:
        raise Malformed(f"{path}: struct list out of bounds")
    (word,) = _WORD.unpack_from(d, start)
    if word & 3:
        raise Malformed(f"{path}: struct list tag is not a struct")
    count = (word >> 2) & 0x3FFF_FFFF
    if word & ~0xFFFF_FFFF != tag or count * element.size != size:
        if count * 8 * ((word >> 32 & 0xFFFF) + (word >> 48)) > size:
            raise Malformed(f"{path}: struct list elements overrun the list")
        raise Mismatch(f"{path}: struct list of another shape")
    return tuple(element.iter_unpack(d[start + 8:start + 8 + size]))
