"""Load a user's .layer file into the running process, compiling it on first use.

A file's module is cached on disk under a key made of the generator version, a hash of the
generator's own code (grammar, generator, templates) and the text of the file and of
everything it imports, so an edit anywhere recompiles and nothing else does.
Built-in protocol files are never compiled here: their generated modules ship in the package
(``pktspec compile --check`` proves they are current). The runtime reaches the generator only
through this module.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from pktspec.errors import Location, SpecError
from pktspec.generator.check import check
from pktspec.generator.compiler import GENERATOR_VERSION, module_name, render_file
from pktspec.generator.resolve import SourceFile, resolve
from pktspec.runtime.registry import REGISTRY


def cache_dir() -> Path:
    """$PKTSPEC_CACHE, else $XDG_CACHE_HOME/pktspec, else ~/.cache/pktspec."""
    env = os.environ.get("PKTSPEC_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pktspec"


@functools.cache
def generator_fingerprint() -> bytes:
    """A hash of the code that turns a .layer file into a module (the grammar, the generator
    and its templates), so that a cached module is made again when that code changes, not
    only when the version number does: a stale module would hide what a change did."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for part in ("grammar", "generator"):
        for path in sorted((root / part).rglob("*")):
            if path.suffix in (".py", ".j2", ".lark") and path.is_file():
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return h.digest()


def _key(source: SourceFile, keys: dict[int, str]) -> str:
    h = hashlib.sha256(GENERATOR_VERSION.encode())
    h.update(generator_fingerprint())
    h.update(source.module.source.encode("utf-8"))
    h.update(source.display.encode("utf-8"))
    for dep in source.imports:
        h.update(keys[id(dep)].encode())
    return h.hexdigest()


def write_atomic(path: Path, text: str, make_dirs: bool = False) -> None:
    """Write text to path through a temporary file and a rename, so that nothing half-written
    is ever there; the file gets the usual permissions (mkstemp's are owner-only)."""
    if make_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(2, "No such directory", str(path.parent))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _import_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise
    return module


_LOADED_FROM: dict[str, Path] = {}
"""The file each user module was loaded from: two files of one name would share a module
(``pktspec.user.<stem>``), the second hiding the first (its layers would no longer pickle,
and modules compiled against it would see the other)."""


def _claim(name: str, source: SourceFile) -> None:
    path = source.path.resolve()
    before = _LOADED_FROM.get(name)
    if before is not None and before != path and name in sys.modules:
        raise SpecError(
            Location(source.display, 1, 1),
            f"another file called {source.path.name} is loaded already, from {before}: "
            f"both would be the module {name}",
            hint="rename one of the two files",
        )
    _LOADED_FROM[name] = path


def _reload(name: str, path: Path) -> ModuleType:
    """Import the new version of a file loaded before (it was edited): the old version's
    layers and bindings are withdrawn first, and put back if the new one fails to import,
    so that the decode chain is never left half old, half new. Modules compiled against the
    old version (user files that import it) keep its classes until they are loaded again."""
    saved = REGISTRY.snapshot()
    REGISTRY.remove_module(name)
    try:
        return _import_file(name, path)
    except BaseException:
        REGISTRY.restore(saved)
        raise


def load(path: Path | str) -> ModuleType:
    """Compile (or take from the cache) and import a .layer file and its imports.

    Returns the module of ``path``; its layers are registered and bound into the decode
    chain. Loading a file again after editing it replaces what its previous version
    registered (see :func:`_reload`). Raises SpecError (with every problem) if the file does
    not check.
    """
    checked = check(resolve(Path(path)))
    keys: dict[int, str] = {}
    module: ModuleType | None = None
    for source in checked.program.files:
        keys[id(source)] = _key(source, keys)
        name = module_name(source)
        if source.builtin:
            module = importlib.import_module(name)
            continue
        _claim(name, source)
        cached = cache_dir() / f"{source.stem}-{keys[id(source)][:20]}.py"
        current = sys.modules.get(name)
        if current is not None and getattr(current, "__file__", None) == str(cached):
            module = current
            continue
        if not cached.exists():
            write_atomic(cached, render_file(checked, source), make_dirs=True)
        module = _reload(name, cached) if current is not None else _import_file(name, cached)
    assert module is not None
    return module
