"""Phase 3, its product: the view-model that the templates print.

Plain records, one per output kind: a module (ModuleModel), a layer or struct (LayerModel)
and a run of fixed-size fields read with one struct.Struct (Segment). They are filled by the
planners (plan.py for a module, layout.py for one layer, relations.py for its builder
relations) and read by emit.py; every name, format and offset is decided before this point.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Segment:
    """A run of fixed-size fields read with one struct.Struct at one position."""

    fmt: str
    size: int
    targets: list[str] = field(default_factory=list)
    post: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


@dataclass
class LayerModel:
    name: str
    kind: str  # layer | struct
    doc: str
    layer_class: str
    source: str
    slots: list[str]
    field_infos: list[str]
    format_lines: list[str]
    structs: list[tuple[str, str]]  # (name, struct format) of the fast path
    decode_lines: list[str]
    properties: list[list[str]]
    flow_lines: list[str]
    defaults: list[tuple[str, str]]
    relations: list[str]
    guard: str = "None"
    build_info: list[str] = field(default_factory=list)  # HEADER, PSEUDO_HEADER, NEXT
    tail_lines: list[str] = field(default_factory=list)  # body of _decode_tail, if any
    trailer_lines: list[str] = field(default_factory=list)  # TRAILER: fields after the payload
    summary_lines: list[str] = field(default_factory=list)  # SUMMARY: the one-line rules
    program_lines: list[str] = field(default_factory=list)  # _PROGRAM: the fast path's form


@dataclass
class ModuleModel:
    source: str
    sha256: str
    version: str
    regenerate: str
    imports: list[tuple[str, str, str | None]]  # (module, names, the .layer a user one needs)
    flagsets: list[str]
    enums: list[tuple[str, str, list[tuple[str, str]]]]
    tables: list[str]
    endpoints: list[str]
    helpers: list[list[str]]
    struct_formats: list[str]
    field_formats: list[str]
    layers: list[LayerModel]
    registrations: list[str]
    exports: list[str]
