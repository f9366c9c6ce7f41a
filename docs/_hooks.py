"""MkDocs hooks: the repository's own pages become pages of the site, links keep working.

The README is the site's home page, every design note is in the nav, and the pages that the
README and ``docs/`` link to outside ``docs/`` (``benchmarks/README.md``, ``experiments/README.md``,
``CHANGELOG.md``, their images) are added under ``repo/``. Links are written for GitHub (relative
to the file's place in the repository); :func:`on_page_markdown` rewrites each one to the page's
place in the site, so a link that is broken on GitHub is broken in the site too, and
``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

#: Repository files that are pages of the site wherever they are linked from (the nav lists them).
ALWAYS = ("README.md", "CHANGELOG.md", "benchmarks/README.md", "experiments/README.md")

#: ``[text](target)`` / ``![alt](target "title")`` and ``[label]: target`` definitions.
_LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))|(^\s*\[[^\]]+\]:\s*)(\S+)", re.M)
#: Fenced code blocks, whose text is not Markdown.
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)

#: A table row, and a code span in it: GitHub needs ``\\|`` for a pipe in a cell's code, which
#: Python-Markdown shows verbatim (it does not split cells on pipes inside backticks).
_TABLE_ROW = re.compile(r"^\|.*\|[ \t]*$", re.M)
_CODE = re.compile(r"`[^`\n]+`")

_included: dict[str, str] = {}  # site src_uri -> path in the repository, for files added here


def _root(config) -> Path:
    return Path(config.config_file_path).parent


def _site_uri(repo_path: str) -> str:
    """Where the repository file ``repo_path`` lives in the site."""
    if repo_path == "README.md":
        return "index.md"
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/"):]
    return "repo/" + repo_path


def _repo_path(src_uri: str) -> str:
    return _included.get(src_uri, "docs/" + src_uri)


def _targets(markdown: str):
    """Relative link targets of ``markdown`` outside code blocks: ``(match, path, anchor)``."""
    text = _FENCE.sub(lambda m: " " * len(m.group(0)), markdown)
    for m in _LINK.finditer(text):
        target = m.group(2) or m.group(5)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
            continue
        path, _, anchor = target.partition("#")
        yield m, path, anchor


def _resolve(root: Path, page_repo_path: str, path: str) -> str | None:
    """The repository path a relative link points at (a folder's README.md), or None."""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), path))
    if target.startswith("../") or not (root / target).exists():
        return None
    if (root / target).is_dir():
        target = posixpath.join(target, "README.md")
        return target if (root / target).is_file() else None
    return target


def on_config(config):
    """Design notes not yet in the nav's "Design notes" section are appended to it, titled by their heading.

    The notes are written alongside the code they explain; listing one in ``mkdocs.yml`` sets its place.
    """
    section = next((item for item in config.nav or [] if isinstance(item, dict) and "Design notes" in item), None)
    if section is None:
        return config
    entries = section["Design notes"]
    listed = {next(iter(e.values())) if isinstance(e, dict) else e for e in entries}
    for page in sorted((Path(config.docs_dir) / "design").glob("*.md")):
        uri = f"design/{page.name}"
        if uri not in listed:
            heading = page.read_text(encoding="utf-8").lstrip().split("\n", 1)[0].lstrip("# ").strip()
            entries.append({heading or page.stem: uri})
    return config


def on_files(files: Files, config) -> Files:
    """Add the README as the home page and every outside file a page links to, transitively."""
    root = _root(config)
    todo = list(ALWAYS) + ["docs/" + f.src_uri for f in files if f.src_uri.endswith(".md")]
    seen = set()
    while todo:
        repo_path = todo.pop()
        if repo_path in seen:
            continue
        seen.add(repo_path)
        if not repo_path.startswith("docs/"):
            uri = _site_uri(repo_path)
            _included[uri] = repo_path
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(root / repo_path)))
        if repo_path.endswith(".md"):
            text = (root / repo_path).read_text(encoding="utf-8")
            for _, path, _ in _targets(text):
                target = _resolve(root, repo_path, path) if path else None
                if target is not None:
                    todo.append(target)
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Rewrite each relative link from the file's place in the repository to its place in the site."""
    root = _root(config)
    page_repo_path = _repo_path(page.file.src_uri)
    here = posixpath.dirname(page.file.src_uri)
    edits = []
    for m, path, anchor in _targets(markdown):
        target = _resolve(root, page_repo_path, path) if path else None
        if target is None:
            continue  # left as written: MkDocs reports it if it is broken
        new = posixpath.relpath(_site_uri(target), here or ".") + (f"#{anchor}" if anchor else "")
        group = 2 if m.group(2) else 5
        edits.append((m.start(group), m.end(group), new))
    for start, end, new in reversed(edits):
        markdown = markdown[:start] + new + markdown[end:]
    return _TABLE_ROW.sub(lambda row: _CODE.sub(lambda c: c.group(0).replace("\\|", "|"), row.group(0)), markdown)
