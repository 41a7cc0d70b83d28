"""Structural rules from DESIGN.md that must hold without anyone remembering them."""

import ast
from pathlib import Path

from app.auth.permissions import Permission

APP = Path(__file__).resolve().parent.parent / "app"
# DESIGN.md §2: core < auth, datamap, timeline < incidents < assessment, playbooks, clock < notifications.
LEVEL = {"core": 0, "auth": 1, "datamap": 1, "timeline": 1, "incidents": 2, "assessment": 3, "playbooks": 3,
         "clock": 3, "notifications": 4}
# Entry points may import any domain; db and config are infrastructure every layer may use.
ENTRY = {"api", "cli", "web", "demo", "migrations", "__init__", "scheduler", "bench", "flows", "runtime",
         "exports"}  # exports: a read model over every domain, like flows (issue 6)
INFRA = {"db", "config"}
ENTRY_FILES = {"views.py", "forms.py"}  # a domain's web views are entry points (DESIGN.md §2)


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "app" else None


def test_imports_run_downwards_only():
    wrong = []
    for path in APP.rglob("*.py"):
        own = path.relative_to(APP).parts[0].removesuffix(".py")
        if own in ENTRY or own not in LEVEL or path.name in ENTRY_FILES or "views" in path.parts:
            continue
        for line, module in _imports(path):
            target = _domain(module)
            if target is None or target == own or target in INFRA:
                continue
            if target in ENTRY or target not in LEVEL:
                wrong.append(f"{path.relative_to(APP.parent)}:{line} imports entry point {module}")
            elif LEVEL[target] > LEVEL[own] or (LEVEL[target] == LEVEL[own] and own != "core"):
                wrong.append(f"{path.relative_to(APP.parent)}:{line}: {own} must not import {module}")
    assert not wrong, "\n".join(wrong)


def test_only_channels_touch_the_network_and_only_the_scheduler_imports_apscheduler():
    wrong = []
    for path in APP.rglob("*.py"):
        rel = path.relative_to(APP).as_posix()
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in {"smtplib", "requests", "urllib3", "socket", "http"} and not (
                    rel.startswith("notifications/channels/") or rel.startswith("bench")):
                wrong.append(f"app/{rel}:{line} imports {module}")
            if top == "apscheduler" and rel != "scheduler.py":
                wrong.append(f"app/{rel}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_no_naive_utcnow():
    for path in APP.rglob("*.py"):
        text = path.read_text()
        assert "utcnow(" not in text, f"{path}: datetime.utcnow() is banned (naive)"


def test_every_route_declares_a_permission(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if not isinstance(getattr(view, "permission", None), Permission):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert not missing, "routes without a declared permission: " + ", ".join(missing)


def test_state_changing_routes_are_post_not_get(app):
    for rule in app.url_map.iter_rules():
        name = rule.endpoint.rsplit(".", 1)[-1]
        if any(verb in name for verb in ("delete", "approve", "cancel", "revoke", "logout")):
            assert "GET" not in rule.methods, f"{rule.rule} changes state but answers GET"
