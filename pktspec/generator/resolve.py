"""Phase 1: resolve. Load a .layer file and everything it imports, and name every declaration.

The result is a Program: the parsed files in dependency order (imports first) and one symbol
table over all of them. Built-in protocol files (pktspec/protocols/*.layer) are found by bare
name from anywhere (`import "ethernet.layer"`); other imports are relative to the importing file.
Duplicate names and import cycles stop here, before the checker runs, as kaitai does.
"""

from __future__ import annotations

import difflib
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pktspec.errors import Location, SpecError
from pktspec.grammar import ast, parse

PROTOCOLS_DIR = Path(__file__).resolve().parent.parent / "protocols"


@dataclass
class SourceFile:
    """One parsed .layer file and where it came from."""

    path: Path
    display: str  # the name used in messages and generated headers (stable across machines)
    module: ast.Module
    builtin: bool
    imports: list[SourceFile] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def module_name(self) -> str:
        """The Python module a built-in file compiles to."""
        return f"pktspec.protocols.{self.stem}"


@dataclass
class Symbol:
    """A declared name: what it is (kind), its AST node and the file that declared it."""

    kind: str  # "enum" | "struct" | "layer" | "extern" | "const"
    node: ast.Enum | ast.Struct | ast.Layer | ast.Extern | ast.Const
    file: SourceFile


@dataclass
class Program:
    """All files reachable from the entry file, imports first, and their symbols."""

    files: list[SourceFile]
    symbols: dict[str, Symbol]

    @property
    def entry(self) -> SourceFile:
        return self.files[-1]

    def visible_from(self, source: SourceFile) -> set[str]:
        """Names a file may use: its own and those of everything it imports, transitively."""
        reach: set[int] = set()
        stack = [source]
        while stack:
            f = stack.pop()
            if id(f) in reach:
                continue
            reach.add(id(f))
            stack.extend(f.imports)
        return {n for n, s in self.symbols.items() if id(s.file) in reach}

    def suggest(self, name: str, candidates: set[str] | None = None) -> str | None:
        pool = candidates if candidates is not None else set(self.symbols)
        close = difflib.get_close_matches(name, sorted(pool), n=1, cutoff=0.6)
        return f"did you mean {close[0]!r}?" if close else None


def display_name(path: Path) -> str:
    """Built-in files are shown as protocols/x.layer; others by their file name.

    The name lands in generated comments and messages, so every character outside a plain
    file-name alphabet is escaped (a file called 'x\nimport os' must not become code).
    """
    try:
        name = "protocols/" + str(path.resolve().relative_to(PROTOCOLS_DIR))
    except ValueError:
        name = path.name
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._-+/@" else
                   f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
                   for ch in name)


class _Loader:
    def __init__(self, extra_sources: dict[Path, str] | None = None) -> None:
        self.by_path: dict[Path, SourceFile] = {}
        self.order: list[SourceFile] = []
        self.in_progress: list[Path] = []
        self.extra = extra_sources or {}

    def load(self, path: Path, at: Location | None = None,
             at_source: str | None = None) -> SourceFile:
        """Load ``path``; ``at`` is the import statement that names it (and ``at_source``
        the importing file's text, for the caret under it)."""
        named = path  # as given: a symlink is reported under its own name
        path = path.resolve()
        if path in self.by_path:
            return self.by_path[path]
        if path in self.in_progress:
            chain = " -> ".join(p.name for p in self.in_progress + [path])
            raise SpecError(at, f"import cycle: {chain}", hint="move the shared part to a file "
                            "that both import", source=at_source)
        text = self._read(path, at, display_name(named), at_source)
        display = display_name(path)
        module = parse(text, display)
        source = SourceFile(path, display, module, builtin=path.parent == PROTOCOLS_DIR)
        self.in_progress.append(path)
        for imp in module.of_type(ast.Import):
            source.imports.append(self.load(self._find(imp, path, text), imp.pos, text))
        self.in_progress.pop()
        self.by_path[path] = source
        self.order.append(source)
        return source

    def _read(self, path: Path, at: Location | None, display: str,
              at_source: str | None = None) -> str:
        """The file's text. Only regular files are read (a symlink to /dev/zero or a FIFO
        would never end); every failure is located: at the import that names the file, or
        at the file's 1:1 (the bad byte's line and column for text that is not UTF-8)."""
        if path in self.extra:
            return self.extra[path]
        here = at or Location(display, 1, 1)
        shown = at_source if at is not None else None  # the importer's line, with a caret
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise SpecError(here, f"no such .layer file: {path}", source=shown) from None
        except OSError as exc:
            raise SpecError(here, f"cannot read {path}: {exc.strerror or exc}",
                            source=shown) from None
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
            raise SpecError(here, f"{path} is not a regular file ({what})",
                            hint="name a .layer file", source=shown)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SpecError(here, f"cannot read {path}: {exc.strerror or exc}",
                            source=shown) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            before = data[:exc.start]
            line = before.count(b"\n") + 1
            column = len(before.rsplit(b"\n", 1)[-1].decode("utf-8", "replace")) + 1
            raise SpecError(Location(display, line, column),
                            f"{path} is not UTF-8 text (byte {data[exc.start]:#04x})",
                            hint=f"save it as UTF-8{f' (imported at {at})' if at else ''}"
                            ) from None

    def _find(self, imp: ast.Import, importer: Path, text: str | None = None) -> Path:
        """The file an import names (errors at the import statement, with its line)."""
        if not imp.path.endswith(".layer"):
            raise SpecError(imp.pos, f"cannot import {imp.path!r}: only .layer files are "
                            "imported", hint='import "ethernet.layer"', source=text)
        local = importer.parent / imp.path
        if local.exists() or local.resolve() in self.extra:
            return local
        builtin = PROTOCOLS_DIR / imp.path
        if builtin.exists():
            return builtin
        known = sorted(p.name for p in PROTOCOLS_DIR.glob("*.layer"))
        # only a name that is nearly the same is worth suggesting (a typo, not a guess)
        close = difflib.get_close_matches(imp.path, known, n=1, cutoff=0.8)
        hint = f"did you mean {close[0]!r}?" if close else (
            f"there is no {imp.path} beside {importer.name} and no built-in protocol file "
            "of that name (imports are relative to the importing file, or name a built-in "
            "file such as \"ethernet.layer\")")
        raise SpecError(imp.pos, f"cannot find imported file {imp.path!r}", hint=hint,
                        source=text)


@dataclass(frozen=True)
class BuiltinIndex:
    """What the built-in protocol files declare, for hints to a file that did not import
    them: name -> (kind, file name), and the tables their layers dispatch on."""

    names: dict[str, tuple[str, str]]
    dispatched: frozenset[str]

    def hint_import(self, name: str, kinds: tuple[str, ...] | None = None) -> str | None:
        """'add import "x.layer"' if a built-in file declares ``name`` (of one of ``kinds``)."""
        found = self.names.get(name)
        if found is None or (kinds is not None and found[0] not in kinds):
            return None
        kind, file = found
        return f"{kind} {name} is declared in the built-in {file}: add 'import \"{file}\"'"


# Tables the runtime itself dispatches on, besides those of layers: a capture's link type.
RUNTIME_TABLES = frozenset({"LinkType"})


@lru_cache(maxsize=1)
def builtin_index() -> BuiltinIndex:
    """Parse pktspec/protocols/*.layer once (about 0.2 s) and index what they declare."""
    names: dict[str, tuple[str, str]] = {}
    dispatched: set[str] = set(RUNTIME_TABLES)
    for path in sorted(PROTOCOLS_DIR.glob("*.layer")):
        try:
            module = parse(path.read_text(encoding="utf-8"), display_name(path))
        except (OSError, SpecError):
            continue
        for decl in module.decls:
            kind = next((k for t, k in _KINDS if isinstance(decl, t)), None)
            if kind is not None:
                names.setdefault(decl.name, (kind, path.name))
        for layer in module.of_type(ast.Layer):
            types = {m.name: m.type for m in layer.members if isinstance(m, ast.Field)}
            for m in layer.members:
                if not isinstance(m, ast.NextBy):
                    continue
                if m.table is not None:
                    dispatched.add(m.table)
                elif isinstance(m.exprs[0], ast.Name) and isinstance(
                        types.get(m.exprs[0].name), ast.NamedType):
                    dispatched.add(types[m.exprs[0].name].name)
    return BuiltinIndex(names, frozenset(dispatched))


_KINDS = ((ast.Enum, "enum"), (ast.Struct, "struct"), (ast.Layer, "layer"),
          (ast.Extern, "extern"), (ast.Const, "const"))


def resolve(path: Path | str, extra_sources: dict[Path, str] | None = None) -> Program:
    """Load ``path`` and its imports; return the Program or raise SpecError."""
    loader = _Loader({p.resolve(): t for p, t in (extra_sources or {}).items()})
    loader.load(Path(path))
    symbols: dict[str, Symbol] = {}
    problems: list[SpecError] = []
    stems: dict[str, SourceFile] = {}
    for source in loader.order:
        other = stems.setdefault(source.stem, source)
        if other is not source:  # both would compile to the module pktspec.user.<stem>
            problems.append(SpecError(
                None, f"{source.path} and {other.path} have the same name {source.stem!r}",
                hint="rename one: files are loaded as modules named after them"))
    for source in loader.order:
        for decl in source.module.decls:
            kind = next((k for t, k in _KINDS if isinstance(decl, t)), None)
            if kind is None:
                continue
            previous = symbols.get(decl.name)
            if previous is not None:
                problems.append(SpecError(
                    decl.pos, f"{decl.name!r} is already declared as a {previous.kind} at "
                    f"{previous.node.pos}", hint="each name may be declared once across the "
                    "files imported together; extend an enum with 'extend'",
                    source=source.module.source))
                continue
            symbols[decl.name] = Symbol(kind, decl, source)
    if problems:
        raise SpecError(problems[0].location, problems[0].message, problems[0].hint,
                        problems[0].source, problems)
    return Program(loader.order, symbols)
