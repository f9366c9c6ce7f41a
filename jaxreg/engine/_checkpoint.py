"""Chunk checkpoints of a sweep: nothing finished is lost to a crash.

Layout of an output directory::

    manifest.json            config, λ grid, their hash, and per penalty the chunk
                             size and every finished chunk (file, bytes, sha256)
    chunks/<penalty>-<start>-<stop>.npz   one finished chunk's outputs

Every file is written to a temporary name, flushed and moved into place with
``os.replace``, and a chunk is recorded in the manifest only after its file is
in place, so a ``SIGKILL`` at any moment leaves a consistent directory. On
resume a chunk whose file is missing, of the wrong size or hash, or unreadable
is reported and recomputed. Chunk files are NPZ read with
``allow_pickle=False``; keys are ``/``-joined dict paths.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxreg.engine._results import atomic_write

__all__ = ["ChunkStore", "config_hash", "ResumeError"]

MANIFEST = "manifest.json"


class ResumeError(ValueError):
    """The directory cannot be resumed with this configuration."""


def config_hash(config: dict, lambdas: list[float]) -> str:
    """sha256 of the canonical JSON of the config and the λ grid.

    Example:
      >>> config_hash({"steps": 10}, [0.1, 1.0]) == config_hash({"steps": 10}, [0.1, 1])
      True
    """
    blob = json.dumps({"config": config, "lambdas": [float(x) for x in lambdas]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if "/" in str(k):
                raise ValueError(f"output keys may not contain '/': {k!r}")
            out.update(_flatten(v, f"{prefix}{k}/"))
        return out
    return {prefix[:-1]: np.asarray(tree)}


def _unflatten(flat: dict[str, np.ndarray]) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


class ChunkStore:
    """Reads and writes the chunk checkpoints of one output directory: ``manifest.json`` and ``chunks/*.npz``.

    Args:
      directory: the output directory.
      config: the run's JSON-serialisable configuration; with ``lambdas``, its hash identifies the run.
      lambdas: the λ grid.
      resume: continue the run recorded in ``directory`` (:class:`ResumeError` when the configuration differs);
        otherwise start one (:class:`ResumeError` when ``directory`` already holds one).
      log: where to report a damaged chunk (``None``: nowhere).
      readonly: read, never write (the other processes of a multi-process sweep).

    Example:
      >>> import tempfile, jaxreg
      >>> d = tempfile.mkdtemp()
      >>> store = ChunkStore(d, {"steps": 10}, [0.1, 1.0], resume=False)
      >>> out = jaxreg.sweep(lambda lam: {"w": lam}, [0.1, 1.0], chunk_size=1,
      ...                    on_chunk=lambda a, b, o: store.save("l2", a, b, o, chunk_size=1))
      >>> ChunkStore(d, {"steps": 10}, [0.1, 1.0], resume=True).load("l2", 1, 2)["w"]
      array([1.], dtype=float32)
    """

    def __init__(self, directory: str, config: dict, lambdas: list[float], *, resume: bool,
                 log: Callable[[str], Any] | None = print, readonly: bool = False):
        self.directory = directory
        self.readonly = readonly  # other processes of a multi-process sweep: read, never write
        self.chunk_dir = os.path.join(directory, "chunks")
        self.log = log
        self.hash = config_hash(config, lambdas)
        path = os.path.join(directory, MANIFEST)
        if resume:
            if not os.path.exists(path):
                raise ResumeError(f"--resume {directory}: no {MANIFEST} there; is it a jaxreg sweep directory?")
            try:
                with open(path) as f:
                    self.manifest = json.load(f)
            except (OSError, json.JSONDecodeError) as e:
                raise ResumeError(f"--resume {directory}: {MANIFEST} is unreadable ({e})") from e
            if self.manifest.get("hash") != self.hash:
                old = self.manifest.get("config", {})
                diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
                if not diff and self.manifest.get("lambdas") != [float(x) for x in lambdas]:
                    diff = ["lambdas"]
                raise ResumeError(
                    f"--resume {directory} was started with a different configuration "
                    f"(differs in: {', '.join(diff) or 'the λ grid'}); rerun with the same options, "
                    "or pass only --resume DIR to reuse the saved ones"
                )
        else:
            if os.path.exists(path):
                raise ResumeError(
                    f"--out {directory} already holds a sweep ({MANIFEST}); use --resume {directory} "
                    "to finish it, or choose another --out"
                )
            self.manifest = {"version": 1, "hash": self.hash, "config": config,
                             "lambdas": [float(x) for x in lambdas], "penalties": {}}
            os.makedirs(self.chunk_dir, exist_ok=True)
            self._write_manifest()
        if not readonly:
            os.makedirs(self.chunk_dir, exist_ok=True)

    @staticmethod
    def saved_config(directory: str) -> dict:
        path = os.path.join(directory, MANIFEST)
        try:
            with open(path) as f:
                return json.load(f)["config"]
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise ResumeError(f"--resume {directory}: cannot read {MANIFEST} ({e})") from e

    def _write_manifest(self) -> None:
        if self.readonly:
            return
        atomic_write(os.path.join(self.directory, MANIFEST), json.dumps(self.manifest, indent=1))

    def chunk_size(self, penalty: str) -> int | None:
        """The chunk size an earlier run used for ``penalty`` (resume must reuse it)."""
        return self.manifest["penalties"].get(penalty, {}).get("chunk_size")

    def _entry(self, penalty: str) -> dict:
        return self.manifest["penalties"].setdefault(penalty, {"chunk_size": None, "chunks": {}})

    def save(self, penalty: str, start: int, stop: int, outputs: Any, chunk_size: int) -> None:
        if self.readonly:
            return
        entry = self._entry(penalty)
        if entry["chunk_size"] is None:
            entry["chunk_size"] = int(chunk_size)
        buf = io.BytesIO()
        np.savez(buf, **_flatten(outputs))
        data = buf.getvalue()
        name = f"{penalty}-{start:08d}-{stop:08d}.npz"
        atomic_write(os.path.join(self.chunk_dir, name), data)
        entry["chunks"][f"{start}-{stop}"] = {
            "file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        }
        self._write_manifest()

    def load(self, penalty: str, start: int, stop: int) -> Any | None:
        rec = self._entry(penalty)["chunks"].get(f"{start}-{stop}")
        if rec is None:
            return None
        path = os.path.join(self.chunk_dir, rec["file"])
        problem = None
        try:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) != rec["bytes"]:
                problem = f"size {len(data)} B, expected {rec['bytes']} B"
            elif hashlib.sha256(data).hexdigest() != rec["sha256"]:
                problem = "sha256 mismatch"
            else:
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    out = _unflatten({k: z[k] for k in z.files})
                if any(v.shape[:1] != (stop - start,) for v in _flatten(out).values()):
                    problem = "wrong number of rows"
                else:
                    return out
        except OSError as e:
            problem = f"unreadable ({e.strerror or e})"
        except Exception as e:  # noqa: BLE001 - a damaged archive
            problem = f"unreadable ({e})"
        if self.log:
            self.log(f"  chunk {rec['file']} is corrupted ({problem}); recomputing it")
        del self._entry(penalty)["chunks"][f"{start}-{stop}"]
        self._write_manifest()
        return None
