"""Cap'n Proto struct layouts, read from compiled pycapnp schemas.

``layout_of(schema)`` says where every field of a struct lives: a byte offset in the data
section, a bit offset for Bool, or a pointer index for Text and lists of structs; group
members and union variants included. A ``Binding`` maps a Python class onto a layout, and
``plan`` turns the pair into one ``struct.Struct`` for the message prefix (segment table, root
pointer, data section, pointer section). ``ssmd.codec.codegen`` generates codecs from these.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_NO_DISCRIMINANT = 0xFFFF
_NUMERIC = {"int8": "b", "int16": "h", "int32": "i", "int64": "q", "uint8": "B", "uint16": "H",
            "uint32": "I", "uint64": "Q", "float32": "f", "float64": "d"}


class UnsupportedLayout(Exception):
    """The schema uses something the generated codecs do not handle; use pycapnp for it."""


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


def element_struct(element: Layout) -> struct.Struct:
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


# A data-section entry: (byte offset, struct format, what), what being a field path,
# the (bool path, bit) pairs sharing one byte, or the union tag value.
Entry = tuple[int, str, str | list[tuple[str, int]] | int]


def plan(layout: Layout, b: Binding, pointer_format: str = "Q") -> tuple[struct.Struct, list[Entry]]:
    """The message-prefix Struct of one binding and its data entries in byte order.
    Pointers are one ``Q`` each, or given as ``iI`` (signed low half, high half)."""
    entries: list[Entry] = []
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
    return struct.Struct("<IIQ" + data + pointer_format * layout.pointer_count), entries
