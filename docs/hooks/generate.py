"""mkdocs hook: the reference pages that are generated from the code at build time.

A page asks for a generated block with a marker line, e.g. ``<!-- generate: cli -->``; this
hook replaces the marker with Markdown built from the code as it is now, so the pages cannot
drift from it. A block between ``<!-- repo-only -->`` and ``<!-- /repo-only -->`` is for
readers of the Markdown source and is dropped from the site. Generators:

* ``cli``: every command of the ``ssmd`` cyclopts app (found through the ``ssmd`` entry point
  in ``pyproject.toml``), with its usage, description and parameters;
* ``environment``: every field of the environment file, from the msgspec Structs of the config
  model (``msgspec.inspect`` for types and defaults, the attribute docstrings for meanings);
* ``metrics``: every Prometheus metric the package defines (the module holding the
  ``CollectorRegistry``);
* ``alerts``: every alert rule under ``deploy/`` with a link to its runbook.

Modules are found by what they contain, not by a fixed path, because modules move. Anything
that cannot be found or imported fails the build with a message naming it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!--\s*generate:\s*([a-z_]+)\s*-->\s*$", re.MULTILINE)
# A note for readers of the Markdown source (e.g. on GitHub), dropped from the built site.
REPO_ONLY = re.compile(r"^<!--\s*repo-only\s*-->.*?^<!--\s*/repo-only\s*-->\s*$\n?", re.MULTILINE | re.DOTALL)


# --------------------------------------------------------------------------- helpers


def _root(config: Any) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _import(name: str, root: Path) -> ModuleType:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a missing extra, a syntax error: say which module
        raise PluginError(f"docs: cannot import {name}: {type(exc).__name__}: {exc}") from exc


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _find_module(root: Path, package: str, pattern: str, preferred: str) -> ModuleType:
    """The preferred module if it exists and matches, else the first file of the package matching."""
    regex = re.compile(pattern, re.MULTILINE)
    candidates = sorted((root / package).rglob("*.py"))
    preferred_path = root / (preferred.replace(".", "/") + ".py")
    if preferred_path in candidates:
        candidates.remove(preferred_path)
        candidates.insert(0, preferred_path)
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        if regex.search(text):
            return _import(_module_name(path, root), root)
    raise PluginError(f"docs: no module under {package}/ matches {pattern!r}")


def _cell(text: Any) -> str:
    """One Markdown table cell: one line, pipes escaped."""
    s = " ".join(str(text).split())
    return s.replace("|", "\\|")


def _rst_to_md(text: str) -> str:
    """reST inline literals (``x``) as Markdown code spans."""
    return re.sub(r"``(.+?)``", r"`\1`", text)


def _code(value: Any) -> str:
    s = str(value)
    if "`" in s:
        return f"`` {s} ``"
    return f"`{s}`"


# --------------------------------------------------------------------------- cli


def _cli_app(root: Path) -> tuple[Any, str]:
    """The cyclopts App behind the ``ssmd`` script of pyproject.toml, and the script name."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = pyproject.get("project", {}).get("scripts", {})
    if not scripts:
        raise PluginError("docs: pyproject.toml has no [project.scripts]")
    script, target = next(iter(scripts.items()))
    module_name = target.partition(":")[0]
    module = _import(module_name, root)
    from cyclopts import App

    app = getattr(module, "app", None)
    if not isinstance(app, App):
        app = next((v for v in vars(module).values() if isinstance(v, App)), None)
    if app is None:
        raise PluginError(f"docs: {module_name} (the {script!r} script) defines no cyclopts App")
    return app, script


def _commands(app: Any, chain: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every visible command below ``app``, depth first, in registration order."""
    for name in app:
        if name.startswith("-"):  # --help, -h, --version
            continue
        sub = app[name]  # resolves lazily registered commands ("module:function")
        if not getattr(sub, "show", True):
            continue
        yield (*chain, name), sub
        yield from _commands(sub, (*chain, name))


_SECTION = re.compile(r"^(Parameters|Returns|Raises|Examples|Notes|See Also)\s*\n-{3,}\s*$", re.MULTILINE)


def _describe(sub: Any) -> tuple[str, str]:
    """(summary, details) of a command: the first paragraph of its help (or its function's
    docstring), and the paragraphs after it, without the numpydoc Parameters section."""
    text = inspect.cleandoc(sub.help or "")
    match = _SECTION.search(text)
    if match:
        text = text[: match.start()]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    if not paragraphs:
        return "", ""
    return _rst_to_md(paragraphs[0]), "\n\n".join(_rst_to_md(p) for p in paragraphs[1:])


def _hint(hint: Any) -> str:
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin is typing.Annotated:
        return _hint(args[0])
    if args and origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_hint(a) for a in args if a is not type(None)]
        return " | ".join(parts)
    if args and origin in (list, tuple, set, frozenset):
        return f"{origin.__name__}[{', '.join(_hint(a) for a in args if a is not Ellipsis)}]"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _default(arg: Any) -> str:
    if arg.required:
        return "**required**"
    default = arg.field_info.default
    if default is inspect.Parameter.empty or default is None:
        return "—"
    if arg.is_var_positional():
        return "—"
    return _code(default)


def _arg_names(arg: Any) -> list[str]:
    kind = arg.field_info.kind
    names: list[str] = []
    if arg.is_var_positional():
        names.append(f"{arg.field_info.name.upper()}...")
    elif kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        names.append(arg.field_info.name.upper())
    if kind != inspect.Parameter.POSITIONAL_ONLY and not arg.is_var_positional():
        names.extend(n for n in arg.names if n.startswith("-"))
    return names


def _usage(path: tuple[str, ...], args: list[Any]) -> str:
    parts = list(path)
    options = False
    for arg in args:
        kind = arg.field_info.kind
        if arg.is_var_positional():
            parts.append(f"{arg.field_info.name.upper()}...")
        elif kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            name = arg.field_info.name.upper()
            parts.append(name if arg.required else f"[{name}]")
        elif arg.required:
            parts.append(f"{arg.name} {_hint(arg.hint).upper()}")
        else:
            options = True
    if options:
        parts.append("[OPTIONS]")
    return " ".join(parts)


def _anchor(path: tuple[str, ...]) -> str:
    return "-".join(path[1:]) or "top"


def generate_cli(config: Any) -> str:
    root = _root(config)
    app, script = _cli_app(root)
    commands = list(_commands(app, (script,)))
    if not commands:
        raise PluginError("docs: the cyclopts app has no commands")
    out: list[str] = []
    out.append("| command | what it does |")
    out.append("|---|---|")
    for path, sub in commands:
        short, _ = _describe(sub)
        indent = "&nbsp;&nbsp;&nbsp;&nbsp;" * (len(path) - 2)
        out.append(f"| {indent}[`{' '.join(path)}`](#{_anchor(path)}) | {_cell(short)} |")
    out.append("")
    for path, sub in commands:
        level = "#" * min(6, len(path))  # ssmd up: ##, ssmd data coverage: ###
        short, long = _describe(sub)
        out.append(f"{level} `{' '.join(path)}` {{ #{_anchor(path)} }}")
        out.append("")
        if short:
            out.append(short)
            out.append("")
        if long:
            out.append(long)
            out.append("")
        if sub.default_command is None:
            children = [p for p, _ in commands if p[:-1] == path]
            if children:
                out.append("Commands: " + ", ".join(f"[`{p[-1]}`](#{_anchor(p)})" for p in children) + ".")
                out.append("")
            continue
        args = [a for a in sub.assemble_argument_collection(parse_docstring=True) if a.show]
        out.append("```text")
        out.append(_usage(path, args))
        out.append("```")
        out.append("")
        if not args:
            out.append("No parameters.")
            out.append("")
            continue
        out.append("| parameter | type | default | description |")
        out.append("|---|---|---|---|")
        for arg in args:
            names = ", ".join(_code(n) for n in _arg_names(arg))
            out.append(
                f"| {names} | {' or '.join(_code(t) for t in _hint(arg.hint).split(' | '))} | {_cell(_default(arg))} "
                f"| {_cell(_rst_to_md(arg.parameter.help or ''))} |"
            )
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- environment


def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings of a class (the string literal right after each annotated field)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ in ("builtins", "msgspec"):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        node = ast.parse(source).body[0]
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and i + 1 < len(body):
                nxt = body[i + 1]
                if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(
                    nxt.value.value, str
                ):
                    docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _type_text(t: Any, mi: Any, anchors: dict[type, str]) -> str:
    def text(x: Any) -> str:
        return _type_text(x, mi, anchors)

    if isinstance(t, mi.StrType):
        return "string"
    if isinstance(t, mi.BoolType):
        return "boolean"
    if isinstance(t, mi.IntType):
        return "integer"
    if isinstance(t, mi.FloatType):
        return "number"
    if isinstance(t, mi.NoneType):
        return "null"
    if isinstance(t, mi.LiteralType):
        return " \\| ".join(_code(v) for v in t.values)
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return f"list of {text(t.item_type)}"
    if isinstance(t, mi.DictType):
        return f"map of {text(t.key_type)} → {text(t.value_type)}"
    if isinstance(t, mi.StructType):
        anchor = anchors.get(t.cls)
        return f"[table](#{anchor})" if anchor else "table"
    if isinstance(t, mi.UnionType):
        return " or ".join(text(x) for x in t.types if not isinstance(x, mi.NoneType))
    return type(t).__name__.removesuffix("Type").lower()


def _default_text(field: Any, mi: Any) -> str:
    import msgspec

    if field.required:
        return "**required**"
    if field.default is not msgspec.NODEFAULT:
        value = field.default
    elif field.default_factory is not msgspec.NODEFAULT:
        value = field.default_factory()
    else:
        return "—"
    if isinstance(value, msgspec.Struct):
        return "see below"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, list | dict) and not value:
        return _code("[]" if isinstance(value, list) else "{}")
    if isinstance(value, list):
        return _code("[" + ", ".join(str(v) for v in value) + "]")
    return _code(value)


def _structs_in(t: Any, mi: Any) -> list[Any]:
    if isinstance(t, mi.StructType):
        return [t]
    if isinstance(t, mi.UnionType):
        return [s for x in t.types for s in _structs_in(x, mi)]
    if isinstance(t, mi.DictType):
        return _structs_in(t.value_type, mi)
    if isinstance(t, mi.ListType):
        return _structs_in(t.item_type, mi)
    return []


def _prefix_for(t: Any, name: str, mi: Any) -> str:
    if isinstance(t, mi.DictType):
        return f"{name}.NAME"
    return name


def generate_environment(config: Any) -> str:
    import msgspec
    import msgspec.inspect as mi

    root = _root(config)
    module = _find_module(root, "ssmd", r"^class Environment\(", "ssmd.config.model")
    env_cls = getattr(module, "Environment", None)
    if env_cls is None or not issubclass(env_cls, msgspec.Struct):
        raise PluginError(f"docs: {module.__name__}.Environment is not a msgspec Struct")

    # depth first, in field order: (struct type info, dotted prefix in the file)
    sections: list[tuple[Any, str]] = []
    seen: set[type] = set()

    def visit(info: Any, prefix: str) -> None:
        if info.cls in seen:
            return
        seen.add(info.cls)
        sections.append((info, prefix))
        for field in info.fields:
            for sub in _structs_in(field.type, mi):
                name = f"{prefix}.{field.encode_name}" if prefix else field.encode_name
                visit(sub, _prefix_for(field.type, name, mi))

    visit(mi.type_info(env_cls), "")
    anchors = {
        info.cls: (prefix.replace(".NAME", "").replace(".", "-").lower() or "top-level") for info, prefix in sections
    }

    out: list[str] = []
    for info, prefix in sections:
        cls = info.cls
        title = f"`{prefix}`" if prefix else "Top level"
        out.append(f"## {title} {{ #{anchors[cls]} }}")
        out.append("")
        cls_doc = inspect.getdoc(cls) if cls.__doc__ and cls is not env_cls else None
        if cls_doc and not cls_doc.startswith(("Struct(", "A base class")):
            out.append(_rst_to_md(cls_doc))
            out.append("")
        docs = _field_docs(cls)
        out.append("| field | type | default | meaning |")
        out.append("|---|---|---|---|")
        for field in info.fields:
            full = f"{prefix}.{field.encode_name}" if prefix else field.encode_name
            default = _default_text(field, mi)
            if default == "see below":  # a nested table: its own section, linked from the type
                default = "—"
            out.append(
                f"| {_code(full)} | {_type_text(field.type, mi, anchors)} | {_cell(default)} "
                f"| {_cell(_rst_to_md(docs.get(field.name, '')))} |"
            )
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- metrics


def generate_metrics(config: Any) -> str:
    root = _root(config)
    module = _find_module(root, "ssmd", r"CollectorRegistry\(", "ssmd.metrics")
    from prometheus_client.metrics import MetricWrapperBase

    rows = []
    for value in vars(module).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        kind = getattr(value, "_type", "")
        name = getattr(value, "_name", "")
        if kind == "counter" and not name.endswith("_total"):
            name += "_total"
        labels = ", ".join(getattr(value, "_labelnames", ())) or "—"
        rows.append((name, kind, labels, getattr(value, "_documentation", "")))
    if not rows:
        raise PluginError(f"docs: {module.__name__} defines no Prometheus metric")
    out = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for name, kind, labels, doc in sorted(rows):
        out.append(f"| `{name}` | {kind} | {labels} | {_cell(doc)} |")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- alerts


def alert_rules(root: Path) -> list[dict[str, Any]]:
    """Every alert rule of the Prometheus rule files under deploy/ (first file defining a name wins)."""
    import yaml

    rules: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "deploy").rglob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except Exception:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
            continue
        for group in data["groups"]:
            for rule in group.get("rules", []) or []:
                if isinstance(rule, dict) and "alert" in rule and rule["alert"] not in rules:
                    rules[rule["alert"]] = {**rule, "group": group.get("name", ""), "file": path.relative_to(root)}
    return list(rules.values())


def generate_alerts(config: Any) -> str:
    rules = alert_rules(_root(config))
    if not rules:
        raise PluginError("docs: no alert rules found under deploy/")
    out = ["| alert | severity | fires when | for | summary |", "|---|---|---|---|---|"]
    for rule in rules:
        name = rule["alert"]
        expr = " ".join(str(rule.get("expr", "")).split())
        summary = rule.get("annotations", {}).get("summary", "")
        summary = re.sub(r"\{\{.*?\}\}", "…", summary)
        out.append(
            f"| [{name}](../operations/runbooks.md#{name.lower()}) | {rule.get('labels', {}).get('severity', '')} "
            f"| {_cell(_code(expr))} | {rule.get('for', '0m')} | {_cell(summary)} |"
        )
    files = sorted({str(r["file"]) for r in rules})
    out.append("")
    out.append("Rules from " + ", ".join(_code(f) for f in files) + "; each alert links to its runbook.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- hook

GENERATORS: dict[str, Callable[[Any], str]] = {
    "cli": generate_cli,
    "environment": generate_environment,
    "metrics": generate_metrics,
    "alerts": generate_alerts,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise PluginError(f"docs: {page.file.src_path}: unknown generator {name!r}")
        return GENERATORS[name](config)

    return MARKER.sub(replace, REPO_ONLY.sub("", markdown))
