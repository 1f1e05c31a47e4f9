"""The shape of the code (docs/ARCHITECTURE.md): imports only point down the layers, a surface never
imports another, `jumo/` is wiring only, and no module is too big to hold in mind."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. An app may import its own layer's shared package and any lower layer, never a
# higher one, not even inside a function.
LAYERS = [
    {"common"},
    {"audit"},
    {"establishments"},
    {"bmp"},
    {"jumelages"},
    {"planner"},
    {"notifications"},
    {"web", "dos", "sso", "ops"},  # the surfaces: none imports another
]
RANK = {app: rank for rank, apps in enumerate(LAYERS) for app in apps}
SURFACES = LAYERS[-1]
WIRING = {"__init__.py", "celery.py", "urls.py", "wsgi.py", "settings"}
MAX_LINES = 700


def app_modules():
    for app in sorted(RANK):
        folder = ROOT / app
        if folder.is_dir():
            yield from (p for p in sorted(folder.rglob("*.py")) if ".venv" not in p.parts)


def imported_modules(path: Path):
    """(line, dotted name) of every import of the module, at any depth, relative ones resolved."""
    package = list(path.relative_to(ROOT).with_suffix("").parts)
    package = package[:-1]  # the module's package (for __init__.py, the package itself)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.lineno, node.module


def climbing_imports(path: Path) -> list[str]:
    app = path.relative_to(ROOT).parts[0]
    wrong = []
    for line, name in imported_modules(path):
        top = name.split(".")[0]
        if top == app:
            continue
        where = f"{path.relative_to(ROOT)}:{line} imports {name}"
        if top == "jumo":
            wrong.append(f"{where} (jumo/ is wiring: settings, URLs, Celery app)")
        elif top in RANK and RANK[top] > RANK[app]:
            wrong.append(f"{where} (a higher layer)")
        elif top in RANK and app in SURFACES and top in SURFACES:
            wrong.append(f"{where} (another surface)")
    return wrong


def test_imports_only_point_down_the_layers():
    wrong = [w for path in app_modules() for w in climbing_imports(path)]
    assert wrong == []


def test_the_check_sees_an_import_inside_a_function(tmp_path, monkeypatch):
    """The walk finds a climbing import hidden in a function body, and a relative one resolved."""
    folder = tmp_path / "bmp"
    folder.mkdir()
    module = folder / "x.py"
    module.write_text("from .models import BMP\n\ndef f():\n    from jumelages.services import build_jumelage\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert climbing_imports(module) == ["bmp/x.py:4 imports jumelages.services (a higher layer)"]


def test_jumo_holds_only_the_wiring():
    assert {p.name for p in (ROOT / "jumo").iterdir() if p.name != "__pycache__"} <= WIRING


def test_no_module_is_too_big_to_hold_in_mind():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in app_modules()}
    assert {path: n for path, n in sizes.items() if n > MAX_LINES and "/migrations/" not in path} == {}
