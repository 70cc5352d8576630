"""Cap'n Proto struct layouts read from compiled schemas, and fast codecs generated from them.

``layout_of(schema)`` reads where every field lives (data-section byte or bit, pointer index)
from a pycapnp struct schema. ``compile_encoder`` / ``compile_decoder`` then generate, once per
layout, a straight-line Python function around one precompiled ``struct.Struct`` that writes or
reads the whole message prefix (segment table, root pointer, data and pointer sections) in one
call; texts and lists of plain structs follow it, in the order the fields are bound.

The encoder writes exactly what pycapnp's ``MallocMessageBuilder`` writes when the same fields
are set in the same order: one segment, objects laid out in allocation order. Messages that
would not fit pycapnp's first segment (1024 words) return ``None``. The decoder reads only that
canonical shape (with bounds and type checks on every pointer) and raises ``Mismatch`` for
anything else; callers then use pycapnp itself, which also knows multi-segment, far-pointer and
other-schema-version messages.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import starmap
from typing import Any

FIRST_SEGMENT_WORDS = 1024
"""pycapnp's first segment; a bigger message spills into more segments."""

_NO_DISCRIMINANT = 0xFFFF
_NUMERIC = {"int8": "b", "int16": "h", "int32": "i", "int64": "q", "uint8": "B", "uint16": "H",
            "uint32": "I", "uint64": "Q", "float32": "f", "float64": "d"}
_TEXT_POINTER = 1 | 2 << 32  # list pointer, element size 2 (byte)
_STRUCTS_POINTER = 1 | 7 << 32  # list pointer, element size 7 (composite)
_LIST_KIND = 3 | 7 << 32  # pointer kind bits and element-size bits
_ZEROS = tuple(b"\0" * (8 - k) for k in range(8))  # NUL plus padding after a text of length % 8 == k
_WORD = struct.Struct("<Q")


class UnsupportedLayout(Exception):
    """The schema uses something the generated codecs do not handle; use pycapnp for it."""


class Mismatch(Exception):
    """The bytes are not in the canonical single-segment shape; read them with pycapnp."""


@dataclass(frozen=True)
class Slot:
    """Where one field lives: a data byte offset, a bit offset (bool) or a pointer index."""

    path: str
    kind: str  # "num" | "bool" | "enum" | "text" | "structs"
    offset: int
    fmt: str = ""
    enumerants: tuple[str, ...] = ()
    element: Layout | None = None
    variant: str | None = None

    @property
    def is_pointer(self) -> bool:
        return self.kind in ("text", "structs")


@dataclass(frozen=True)
class Layout:
    name: str
    data_words: int
    pointer_count: int
    slots: dict[str, Slot]
    discriminant: int | None = None
    """Byte offset of the union tag, if the struct has an unnamed union."""
    variants: dict[str, int] = field(default_factory=dict)

    @property
    def root_pointer(self) -> int:
        """The struct pointer of a root at offset 0 (also the tag word of a composite list)."""
        return self.data_words << 32 | self.pointer_count << 48


@dataclass(frozen=True)
class Binding:
    """How objects of ``cls`` map onto a layout. ``fields`` maps slot path to attribute name;
    pointer fields are allocated in this order. ``flags`` maps a Bool presence slot to the
    slot it guards: the guarded attribute may be None (written as zero or a null pointer)."""

    cls: type
    fields: dict[str, str]
    flags: dict[str, str] = field(default_factory=dict)
    variant: str | None = None


def layout_of(schema: Any) -> Layout:
    """The layout of a pycapnp struct schema (``capnp.load(...).Name.schema``)."""
    node = schema.node.struct
    slots: dict[str, Slot] = {}
    variants: dict[str, int] = {}
    _collect(schema, "", None, slots, variants)
    discriminant = node.discriminantOffset * 2 if node.discriminantCount else None
    return Layout(str(schema.node.displayName), node.dataWordCount, node.pointerCount, slots,
                  discriminant, variants)


def _collect(schema: Any, prefix: str, variant: str | None, slots: dict[str, Slot],
             variants: dict[str, int]) -> None:
    for f in schema.fields_list:
        proto = f.proto
        path = prefix + proto.name
        member = variant
        if proto.discriminantValue != _NO_DISCRIMINANT:
            if prefix:
                raise UnsupportedLayout(f"{path}: union inside a group")
            member = proto.name
            variants[member] = proto.discriminantValue
        if str(proto.which()) == "group":
            if f.schema.node.struct.discriminantCount:
                raise UnsupportedLayout(f"{path}: union inside a group")
            _collect(f.schema, path + ".", member, slots, variants)
        else:
            slots[path] = _slot(f, path, member)


def _slot(f: Any, path: str, variant: str | None) -> Slot:
    slot = f.proto.slot
    if slot.hadExplicitDefault:
        raise UnsupportedLayout(f"{path}: explicit default value")
    kind = str(slot.type.which())
    if kind in _NUMERIC:
        fmt = _NUMERIC[kind]
        return Slot(path, "num", slot.offset * struct.calcsize(fmt), fmt, variant=variant)
    if kind == "bool":
        return Slot(path, "bool", slot.offset, variant=variant)
    if kind == "enum":
        names = sorted(f.schema.enumerants.items(), key=lambda item: item[1])
        return Slot(path, "enum", slot.offset * 2, "H", tuple(n for n, _ in names), variant=variant)
    if kind == "text":
        return Slot(path, "text", slot.offset, variant=variant)
    if kind == "list" and str(slot.type.list.elementType.which()) == "struct":
        element = layout_of(f.schema.elementType)
        if element.pointer_count or element.variants or any(
                s.kind != "num" for s in element.slots.values()):
            raise UnsupportedLayout(f"{path}: list elements must be plain numeric structs")
        return Slot(path, "structs", slot.offset, element=element, variant=variant)
    raise UnsupportedLayout(f"{path}: {kind} fields")


def _element_struct(element: Layout) -> struct.Struct:
    """An element's data section as a Struct whose values come in field declaration order."""
    slots = list(element.slots.values())
    if slots != sorted(slots, key=lambda s: s.offset):
        raise UnsupportedLayout(f"{element.name}: fields not in offset order")
    return struct.Struct("<" + _data_format([(s.offset, s.fmt) for s in slots], element.data_words))


def _data_format(entries: Iterable[tuple[int, str]], data_words: int) -> str:
    """Struct format of a data section with values at the given byte offsets (sorted)."""
    fmt, pos = "", 0
    for byte, f in entries:
        if byte < pos:
            raise UnsupportedLayout("overlapping data fields")
        fmt += f"{byte - pos}x{f}" if byte > pos else f
        pos = byte + struct.calcsize("<" + f)
    return fmt + (f"{data_words * 8 - pos}x" if data_words * 8 > pos else "")


# A data-section entry: a field path, a list of (bool path, bit) sharing a byte, or the union tag.
_Entry = tuple[int, str, str | list[tuple[str, int]] | int]


def _plan(layout: Layout, b: Binding) -> tuple[struct.Struct, list[_Entry]]:
    """The message-prefix Struct of one binding and its data entries in byte order."""
    entries: list[_Entry] = []
    bits: dict[int, list[tuple[str, int]]] = {}
    for path in [*b.fields, *b.flags]:
        s = layout.slots[path]
        if s.variant not in (None, b.variant):
            raise UnsupportedLayout(f"{path} is not in variant {b.variant}")
        if s.kind == "bool":
            bits.setdefault(s.offset // 8, []).append((path, s.offset % 8))
        elif not s.is_pointer:
            entries.append((s.offset, s.fmt, path))
    entries += [(byte, "B", members) for byte, members in bits.items()]
    if b.variant is not None and layout.discriminant is not None:
        entries.append((layout.discriminant, "H", layout.variants[b.variant]))
    entries.sort(key=lambda e: e[0])
    data = _data_format([(e[0], e[1]) for e in entries], layout.data_words)
    return struct.Struct("<IIQ" + data + "Q" * layout.pointer_count), entries


def _build(source: str, namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    exec(compile(source, f"<capnp_layout {name}>", "exec"), namespace)  # noqa: S102 - generated from a schema
    fn: Callable[..., Any] = namespace[name]
    fn.source = source  # type: ignore[attr-defined]
    return fn


def compile_encoder(layout: Layout, b: Binding) -> Callable[[Any], bytes | None]:
    """``encode(obj) -> bytes``, or None when the message would need more than one segment."""
    head, entries = _plan(layout, b)
    ns: dict[str, Any] = {"HEAD": head, "ZEROS": _ZEROS, "WORD": _WORD, "starmap": starmap}
    var = {path: f"v{i}" for i, path in enumerate(b.fields)}
    optional = set(b.flags.values())
    lines = [f"    {var[p]} = r.{attr}" for p, attr in b.fields.items()]
    data: list[str] = []
    for _, _, what in entries:
        if isinstance(what, int):
            data.append(str(what))
        elif isinstance(what, str):
            v, s = var[what], layout.slots[what]
            if s.kind == "enum":
                ns[f"E{v}"] = {n: i for i, n in enumerate(s.enumerants)}
                v = f"E{v}[{v}]"
            data.append(f"(0 if {v} is None else {v})" if what in optional else v)
        else:
            guards = {p: (f"{var[b.flags[p]]} is not None" if p in b.flags else var[p]) for p, _ in what}
            data.append(" | ".join(f"({1 << bit} if {guards[p]} else 0)" for p, bit in what))
    words = 1 + layout.data_words + layout.pointer_count
    lines.append(f"    w = {words}")
    parts: list[str] = []
    for path in b.fields:
        s, v = layout.slots[path], var[path]
        if not s.is_pointer:
            continue
        after = 2 + layout.data_words + s.offset  # word index following the pointer
        p, body = f"p{s.offset}", []
        if s.kind == "text":
            body = [f"t{v} = {v}.encode()", f"n{v} = len(t{v})",
                    f"{p} = (w - {after}) << 2 | (n{v} + 1) << 35 | {_TEXT_POINTER}",
                    f"w += (n{v} + 8) >> 3", f"z{v} = ZEROS[n{v} & 7]"]
            parts += [f"t{v}", f"z{v}"]
        else:
            assert s.element is not None
            ew = s.element.data_words
            ns[f"L{v}"] = _element_struct(s.element).pack
            body = [f"c{v} = len({v})",
                    f"{p} = (w - {after}) << 2 | (c{v} * {ew}) << 35 | {_STRUCTS_POINTER}",
                    f"w += 1 + c{v} * {ew}",
                    f"g{v} = WORD.pack(c{v} << 2 | {s.element.root_pointer})",
                    f"e{v} = b''.join(starmap(L{v}, {v}))"]
            parts += [f"g{v}", f"e{v}"]
        if path in optional:
            empty = f"t{v} = z{v} = b''" if s.kind == "text" else f"g{v} = e{v} = b''"
            lines += [f"    if {v} is None:", f"        {p} = 0", f"        {empty}", "    else:"]
            lines += [f"        {line}" for line in body]
        else:
            lines += [f"    {line}" for line in body]
    pointers = [f"p{i}" if any(layout.slots[p].is_pointer and layout.slots[p].offset == i
                               for p in b.fields) else "0" for i in range(layout.pointer_count)]
    packed = ", ".join(["0", "w", str(layout.root_pointer), *data, *pointers])
    lines += [f"    if w > {FIRST_SEGMENT_WORDS}:", "        return None",
              f"    return b''.join((HEAD.pack({packed}), {', '.join(parts)}))"]
    return _build("def encode(r):\n" + "\n".join(lines) + "\n", ns, "encode")


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
        head, entries = _plan(layout, b)
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
                    expr[s.path] = f"text(d, {after}, p{s.offset}, end)"
                else:
                    assert s.element is not None
                    ns[f"L{k}_{s.offset}"] = _element_struct(s.element)
                    expr[s.path] = (f"structs(d, {after}, p{s.offset}, end, L{k}_{s.offset}, "
                                    f"{s.element.root_pointer})")
        for flag, guarded in b.flags.items():
            expr[guarded] = f"({expr[guarded]} if {expr[flag]} else None)"
        pointers = [f"p{i}" for i in range(layout.pointer_count)]
        lines += [f"{indent}segs, words, root, {', '.join(names + pointers)} = HEAD{k}.unpack_from(d)",
                  f"{indent}end = len(d)",
                  f"{indent}if segs or root != {layout.root_pointer} or end != 8 + 8 * words:",
                  f"{indent}    raise Mismatch('not a canonical single-segment {layout.name}')",
                  f"{indent}return C{k}(" + ", ".join(f"{a}={expr[p]}" for p, a in b.fields.items()) + ")"]
    if layout.discriminant is not None:
        lines.append("    raise Mismatch(f'union tag {u}')")
    return _build("def decode(d):\n" + "\n".join(lines) + "\n", ns, "decode")


def _target(after: int, pointer: int) -> int:
    """Byte offset of a pointer's target: its 30-bit signed word offset from ``after``."""
    offset = (pointer >> 2) & 0x3FFF_FFFF
    return after + 8 * (offset - (offset >> 29 << 30))


def _text(d: bytes, after: int, pointer: int, end: int) -> str:
    if not pointer:
        return ""
    n = pointer >> 35
    offset = (pointer >> 2) & 0x3FFF_FFFF
    start = after + 8 * (offset - (offset >> 29 << 30))
    stop = start + n - 1  # the NUL
    if pointer & _LIST_KIND != _TEXT_POINTER or not n or start < 8 or stop >= end or d[stop]:
        raise Mismatch("not a NUL-terminated text inside the segment")
    return str(d[start:stop], "utf-8")


def _structs(d: bytes, after: int, pointer: int, end: int, element: struct.Struct,
             tag: int) -> tuple[tuple[Any, ...], ...]:
    if not pointer:
        return ()
    if pointer & _LIST_KIND != _STRUCTS_POINTER:
        raise Mismatch("not a struct list pointer")
    size = 8 * (pointer >> 35)
    start = _target(after, pointer)
    if start < 8 or start + 8 + size > end:
        raise Mismatch("struct list outside the segment")
    (word,) = _WORD.unpack_from(d, start)
    if word & ~0xFFFF_FFFC != tag or ((word >> 2) & 0x3FFF_FFFF) * element.size != size:
        raise Mismatch("struct list of another shape")
    return tuple(element.iter_unpack(d[start + 8:start + 8 + size]))
