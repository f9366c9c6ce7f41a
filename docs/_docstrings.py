"""Griffe extension: jaxreg's reST-flavoured docstrings rendered as the Markdown mkdocstrings reads.

The docstrings follow optax's style, read as plain text by ``help()``: Google sections,
``.. math::`` blocks, ``:math:`` and ``:func:``/``:class:``/``:mod:`` roles, and ``#:`` comments
documenting constants. This extension rewrites them for the site:

* ``.. math::`` blocks become ``$$ … $$`` blocks and ``:math:`x``` becomes ``$x$`` (arithmatex);
* a role naming a public jaxreg object becomes a cross-reference to the place the API reference
  documents it (``jaxreg.add_l2_decay`` -> ``jaxreg.core.add_l2_decay``); a name that resolves to
  nothing is left as a reference, so the strict build fails on it; private and other packages'
  names become code;
* a reST literal block (``text::`` then an indented block) keeps its text with one colon, the block
  becoming Markdown's indented code;
* reST simple tables (``=====  =====`` borders) become Markdown tables;
* an ``Example:`` section (napoleon's spelling) is read as griffe's ``Examples:``, doctests as code;
* ``a, b: description`` in an Args section (napoleon's grouped parameters) becomes one item per name;
* a constant without a docstring takes its ``#:`` comment.
"""

from __future__ import annotations

import importlib
import re
import textwrap
from typing import Any

import griffe

#: The layers whose ``__all__`` the API reference renders, one page each.
LAYERS = ("core", "engine", "solvers", "models", "app")

_ROLE = re.compile(r":(?:py:)?(func|class|mod|meth|attr|data|obj|exc|const):`~?([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_SECTION = re.compile(r"^(?P<indent>[ \t]*)(?:Args|Arguments|Parameters|Attributes):[ \t]*$")
_GROUPED = re.compile(r"^(?P<indent>[ \t]+)(?P<names>\w+(?:,[ \t]*\w+)+)(?P<rest>[ \t]*(?:\([^)]*\))?:.*)$")
_EXAMPLE = re.compile(r"^([ \t]*)Example:[ \t]*$", re.M)
_LITERAL = re.compile(r"(?<=\S)::[ \t]*$", re.M)
_BORDER = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")
_MATH_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*\n(?P<body>(?:(?:(?P=indent)[ \t]+\S.*)?\n)+)", re.M)


def _documented_paths() -> dict[int, str]:
    """``id(object)`` -> the path under which the API reference renders it."""
    jaxreg = importlib.import_module("jaxreg")
    paths: dict[int, str] = {}
    for layer in LAYERS:
        module = getattr(jaxreg, layer)
        paths.setdefault(id(module), f"jaxreg.{layer}")
        for name in module.__all__:
            paths.setdefault(id(getattr(module, name)), f"jaxreg.{layer}.{name}")
    for name in jaxreg.core.prox.__all__:
        paths.setdefault(id(getattr(jaxreg.core.prox, name)), f"jaxreg.core.prox.{name}")
    for name in jaxreg.__all__:
        paths.setdefault(id(getattr(jaxreg, name)), f"jaxreg.{name}")
    return paths


def _lookup(dotted: str) -> Any:
    """The object at ``dotted`` (a module path, then attributes), or ``None``."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_grouped_parameters(text: str) -> str:
    """``a, b: text`` items of Args/Attributes sections -> ``a: text`` and ``b: text``."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        header = _SECTION.match(lines[i])
        out.append(lines[i])
        i += 1
        if not header:
            continue
        base = len(header.group("indent"))
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            item = _GROUPED.match(lines[i])
            end = i + 1
            while end < len(lines) and lines[end].strip() and _indent(lines[end]) > _indent(lines[i]):
                end += 1
            if item:
                for name in item.group("names").split(","):
                    out.append(item.group("indent") + name.strip() + item.group("rest"))
                    out.extend(lines[i + 1:end])
            else:
                out.extend(lines[i:end])
            i = end
    return "\n".join(out)


def _cell(text: str) -> str:
    """A table cell: pipes in ``:math:`` as ``\\Vert``/``\\vert``, elsewhere escaped."""
    parts = re.split(r"(:math:`[^`]+`)", text.strip())
    return "".join(
        p.replace("\\|", "\\Vert ").replace("|", "\\vert ") if p.startswith(":math:") else p.replace("|", "\\|")
        for p in parts
    )


def _cells(line: str, starts: list[int]) -> list[str]:
    bounds = [*starts[1:], None]
    return [_cell(line[a:b]) for a, b in zip(starts, bounds)]


def _simple_tables(text: str) -> str:
    """reST simple tables (a border, an optional header and its border, rows, a border) as Markdown tables."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        if not _BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        indent = border[: _indent(border)]
        starts = [m.start() for m in re.finditer(r"=+", border)]
        borders = [j for j in range(i + 1, len(lines)) if _BORDER.match(lines[j])]
        if not borders:
            out.append(lines[i])
            i += 1
            continue
        header, rows, end = None, lines[i + 1:borders[0]], borders[0]
        if len(borders) > 1 and end - i == 2:  # one header row, then its border
            header, rows, end = lines[i + 1], lines[end + 1:borders[1]], borders[1]
        head = _cells(header, starts) if header is not None else [""] * len(starts)
        out.append(indent + "| " + " | ".join(head) + " |")
        out.append(indent + "|" + "---|" * len(starts))
        out.extend(indent + "| " + " | ".join(_cells(r, starts)) + " |" for r in rows if r.strip())
        i = end + 1
    return "\n".join(out)


class RestToMarkdown(griffe.Extension):
    """Rewrites every docstring of the loaded package once it is loaded."""

    def __init__(self) -> None:
        super().__init__()
        self._paths = _documented_paths()

    def _reference(self, name: str, module: str) -> str:
        title = name.rsplit(".", 1)[-1] if name.startswith("~") else name
        name = name.lstrip("~")
        for candidate in (name, f"{module}.{name}"):
            obj = _lookup(candidate) if candidate.startswith("jaxreg") else None
            if obj is not None and id(obj) in self._paths:
                return f"[`{title}`][{self._paths[id(obj)]}]"
        if not name.startswith("jaxreg.") or any(p.startswith("_") for p in name.split(".")):
            return f"`{title}`"
        return f"[`{title}`][{name}]"  # unresolved: the strict build reports it

    def _markdown(self, text: str, module: str) -> str:
        def block(m: re.Match) -> str:
            indent = m.group("indent")
            equations = textwrap.dedent(m.group("body")).strip().split("\n\n")
            return "".join(
                f"{indent}$$\n" + textwrap.indent(eq.strip(), indent) + f"\n{indent}$$\n\n" for eq in equations
            )

        text = _EXAMPLE.sub(r"\1Examples:", text)
        text = _split_grouped_parameters(text)
        text = _simple_tables(text)
        text = _MATH_BLOCK.sub(block, text)
        text = _LITERAL.sub(":", text)
        text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
        return _ROLE.sub(lambda m: self._reference(m.group(2), module), text)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is None and obj.is_attribute:
                comment = _hash_colon_comment(obj)
                if comment:
                    obj.docstring = griffe.Docstring(comment, parent=obj)
            if obj.docstring is not None:
                obj.docstring.value = self._markdown(obj.docstring.value, obj.module.path)


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _hash_colon_comment(obj: griffe.Object) -> str:
    """The ``#:`` comment lines right above an attribute's assignment."""
    lines = obj.module.lines
    i = (obj.lineno or 1) - 2
    found = []
    while i >= 0 and lines[i].strip().startswith("#:"):
        found.append(lines[i].strip()[2:].strip())
        i -= 1
    return " ".join(reversed(found))
