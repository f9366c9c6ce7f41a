"""The documentation is tested like code.

* Every Python block of the README and of the user guides (``docs/*.md``) runs, each in a fresh
  interpreter; an HTML comment ``<!-- docs-test: skip (why) -->`` on the line before a block
  skips it (for a block that needs a GPU, say).
* The README stays a five-minute read, its first example is ``examples/quickstart.py``, and its
  performance figures are the generated ``benchmarks/README.md``'s, not copies that drift.
* The documentation site builds with ``mkdocs build --strict`` (a broken link or cross-reference,
  a docstring griffe cannot parse, a page left out of the nav all fail), and its API reference
  shows every name of ``jaxreg.__all__`` and of each layer's ``__all__``.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
import subprocess
import sys

import pytest

import jaxreg

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README must be read in five minutes (issue 19).
README_MAX_LINES = 250
#: The subpackages with one API reference page each (``docs/api/<layer>.md``).
LAYERS = ("core", "engine", "solvers", "selection", "tuning", "models", "app")
#: Marks the fenced block on the next line as not run by these tests.
SKIP_MARK = "<!-- docs-test: skip"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)


def python_blocks(page: pathlib.Path) -> list[tuple[int, str]]:
    """``(line number, code)`` of the page's ```` ```python ```` blocks that are not marked skip."""
    text = page.read_text(encoding="utf-8")
    blocks = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if m.group(1) == "python" and not before.startswith(SKIP_MARK):
            blocks.append((text.count("\n", 0, m.start()) + 1, m.group(2)))
    return blocks


PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [(page, line, code) for page in PAGES for line, code in python_blocks(page)]


@pytest.mark.parametrize(
    "page,line,code", BLOCKS, ids=[f"{p.relative_to(ROOT)}:{line}" for p, line, _ in BLOCKS]
)
def test_python_block_runs(page, line, code, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    where = f"{page.relative_to(ROOT)}, the block at line {line}"
    assert result.returncode == 0, f"{where} failed:\n{result.stderr[-4000:]}"
    assert "RuntimeWarning" not in result.stderr, f"{where} warns:\n{result.stderr[-4000:]}"


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def _code_lines(code: str) -> list[str]:
    """The statements, without blank lines, imports (the README packs them on one line) and docstrings."""
    return [
        line for line in code.splitlines()
        if line.strip() and not line.startswith(('"""', "import ", "from "))
    ]


@pytest.mark.parametrize("index,script", [(0, "quickstart.py"), (1, "sweep_in_python.py")])
def test_readme_examples_are_the_example_scripts(index, script):
    example = (ROOT / "examples" / script).read_text(encoding="utf-8")
    block = python_blocks(README)[index][1]
    assert _code_lines(block) == _code_lines(example), f"README's example {index + 1} and examples/{script} differ"


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start: end if end > 0 else None]


def test_readme_performance_figures_come_from_the_benchmark_page():
    section = _section(README.read_text(encoding="utf-8"), "Performance")
    generated = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    figures = set(re.findall(r"\b\d+\.\d+(?=×|\s*\|)|\b\d{1,3}(?:,\d{3})+\b", section))
    assert figures, "no figures found in the README's Performance section"
    missing = sorted(f for f in figures if not re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d,])", generated))
    assert not missing, f"README figures not in benchmarks/README.md (copy them from there): {missing}"


def test_api_pages_name_every_public_name():
    index = (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")
    missing = [name for name in jaxreg.__all__ if f"`{name}`" not in index]
    assert not missing, f"docs/api/index.md does not list {missing}"
    for layer in LAYERS:
        page = (ROOT / "docs" / "api" / f"{layer}.md").read_text(encoding="utf-8")
        rendered = re.search(rf"^::: jaxreg\.{layer}\s*$", page, re.M)
        assert rendered, f"docs/api/{layer}.md does not render jaxreg.{layer}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The documentation site, built with warnings as errors."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the docs extra is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    problems = [line for line in result.stderr.splitlines() if not line.startswith("INFO")]
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(problems)[-6000:]
    return out


def test_docs_site_builds_strict(site):
    assert (site / "index.html").is_file() and (site / "api" / "index.html").is_file()


@pytest.mark.parametrize("layer", LAYERS)
def test_api_reference_documents_every_name_of_each_layer(site, layer):
    page = (site / "api" / layer / "index.html").read_text(encoding="utf-8")
    module = importlib.import_module(f"jaxreg.{layer}")
    missing = [name for name in module.__all__ if f'id="jaxreg.{layer}.{name}"' not in page]
    assert not missing, f"the API reference page of jaxreg.{layer} does not document {missing}"


def test_api_reference_links_every_top_level_name(site):
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    missing = [
        name for name in jaxreg.__all__
        if not re.search(rf'(?:id="|#)jaxreg(?:\.\w+)?\.{re.escape(name)}"', page)
    ]
    assert not missing, f"the API reference's jaxreg page neither documents nor links {missing}"


def _constant_comment(name: str) -> str | None:
    """The ``#:`` comment above ``name = ...`` in a module of ``jaxreg/core``, or None."""
    for path in sorted((ROOT / "jaxreg" / "core").glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if re.match(rf"{name}\s*(:[^=]*)?=", line):
                return lines[i - 1] if i and lines[i - 1].startswith("#:") else None
    return None


CORE_NAMES = [f"jaxreg.core.{n}" for n in jaxreg.core.__all__] + [
    f"jaxreg.core.prox.{n}" for n in jaxreg.core.prox.__all__
]


@pytest.mark.parametrize("path", CORE_NAMES)
def test_core_names_have_a_docstring_and_an_example(path):
    module, _, name = path.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    if callable(obj) or isinstance(obj, type) or hasattr(obj, "__path__") or type(obj).__name__ == "module":
        doc = obj.__doc__ or ""
        assert doc.strip(), f"{path} has no docstring"
        if callable(obj):
            assert ">>>" in doc, f"{path}'s docstring has no doctest example"
    else:
        assert _constant_comment(name), f"{path} is a constant without a `#:` comment above it"
