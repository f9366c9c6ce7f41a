"""Chunk checkpoints of a sweep: nothing finished is lost to a crash, and nothing is mixed on resume.

Layout of an output directory::

    manifest.json            config, λ grid, the other inputs' fingerprints (data, library
                             versions, devices), the hash of all of them, and per penalty the
                             chunk size and every finished chunk (file, bytes, sha256)
    chunks/<penalty>-<start>-<stop>.npz   one finished chunk: a header line, then its outputs
    .jaxreg.lock             the command's exclusive lock on the directory (see RunLock)

Every file is written to a temporary name (``.tmp-*``), flushed and moved into
place with ``os.replace``, and a chunk is recorded in the manifest only after
its file is in place, so a ``SIGKILL`` at any moment leaves a consistent
directory (at worst a stray temporary file, which :func:`remove_stray_temporaries`
deletes). A resume whose inputs hash differently is refused, naming what changed.

A chunk file carries its own header, ``JAXREG-CHUNK 1`` then one line of JSON
(the run's hash, penalty, rows, chunk size, the run's config, and a sha256 of
that header and the payload), then the NPZ payload (read with
``allow_pickle=False``; keys are ``/``-joined dict paths). The manifest, which
carries a checksum of its own, is therefore only an index: when it is missing
or damaged, a resume rebuilds it from the intact chunk files of the same run. A
chunk whose file is missing, damaged or unreadable is reported and recomputed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import io
import json
import os
import socket
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from jaxreg.engine._results import atomic_write

__all__ = ["ChunkStore", "config_hash", "ResumeError", "CheckpointWarning", "RunLock", "device_fingerprint",
           "remove_stray_temporaries"]

MANIFEST = "manifest.json"
#: Folder of the chunk files, inside the output directory.
CHUNKS = "chunks"
#: The lock file :class:`RunLock` holds, inside the output directory.
LOCK_FILE = ".jaxreg.lock"
#: What ``atomic_write`` names its temporary files with; a killed write leaves one behind.
TEMPORARY_PREFIX = ".tmp-"
#: The manifest's format; version 1 recorded no fingerprint of the data, the versions or the devices.
MANIFEST_VERSION = 2
#: The first line of every chunk file (format version 1).
CHUNK_MAGIC = b"JAXREG-CHUNK 1\n"


class ResumeError(ValueError):
    """The directory cannot be resumed with this configuration (or is in use by another run)."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was found and repaired: a chunk to recompute, a manifest rebuilt from the chunks."""


def config_hash(config: dict, lambdas: list[float], inputs: dict | None = None) -> str:
    """sha256 of the canonical JSON of the config, the λ grid and the other inputs' fingerprints.

    Example:
      >>> config_hash({"steps": 10}, [0.1, 1.0]) == config_hash({"steps": 10}, [0.1, 1])
      True
      >>> config_hash({"steps": 10}, [0.1], {"data": "ab12"}) == config_hash({"steps": 10}, [0.1], {"data": "cd34"})
      False
    """
    record = {"config": config, "lambdas": [float(x) for x in lambdas]}
    if inputs:
        record["inputs"] = inputs
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def library_versions() -> dict[str, str]:
    """The versions of the libraries whose code computes a sweep's results: jaxreg, jax, jaxlib."""
    return {name: _version(name) for name in ("jaxreg", "jax", "jaxlib")}


def device_fingerprint(*, count_matters: bool = True) -> str:
    """The devices a sweep runs on, as far as they can change its results.

    Platform and kind (for a CPU, the processor's name: XLA compiles for the host's
    instruction set), and, when ``count_matters`` (any vectorised sweep: the device count
    and so the chunk size change results within rounding), how many devices and processes.

    Example:
      >>> device_fingerprint(count_matters=False).startswith("cpu")
      True
    """
    import jax

    from jaxreg.engine._devices import _processor

    device = jax.devices()[0]
    kind = f"cpu ({_processor()})" if device.platform == "cpu" else f"{device.platform} ({device.device_kind})"
    if not count_matters:
        return kind
    return f"{kind} × {jax.device_count()} device(s), {jax.process_count()} process(es)"


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


class _Chunk(NamedTuple):
    """A chunk file's parts: its header (a dict) and its NPZ payload."""

    header: dict
    payload: bytes


def _chunk_name(penalty: str, start: int, stop: int) -> str:
    return f"{penalty}-{start:08d}-{stop:08d}.npz"


def _chunk_digest(header: dict, payload: bytes) -> str:
    """sha256 of the header's canonical JSON (its own ``sha256`` left out) and the payload: every byte that counts."""
    body = {k: v for k, v in header.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode() + b"\n" + payload).hexdigest()


def _chunk_bytes(header: dict, payload: bytes) -> bytes:
    header = {**header, "payload_bytes": len(payload)}
    header["sha256"] = _chunk_digest(header, payload)
    return CHUNK_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def _parse_chunk(data: bytes) -> _Chunk:
    """The header and payload of a chunk file; ``ValueError`` when either is damaged."""
    if not data.startswith(CHUNK_MAGIC):
        raise ValueError("not a jaxreg chunk file")
    line, newline, payload = data[len(CHUNK_MAGIC):].partition(b"\n")
    header = json.loads(line) if newline else None
    if not isinstance(header, dict):
        raise ValueError("damaged header")
    if len(payload) != header.get("payload_bytes"):
        raise ValueError(f"size {len(payload)} B, expected {header.get('payload_bytes')} B")
    if _chunk_digest(header, payload) != header.get("sha256"):
        raise ValueError("sha256 mismatch")
    return _Chunk(header, payload)


def _checksum(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON, its own ``checksum`` left out."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _manifest_problem(manifest: Any) -> str | None:
    """What makes ``manifest`` (parsed JSON) unusable, or ``None``.

    The checksum catches any change since it was written, a flipped byte included, so a
    manifest that passes is one this module wrote, whole.
    """
    if not isinstance(manifest, dict):
        return f"not a jaxreg manifest (a JSON {type(manifest).__name__}, not an object)"
    if manifest.get("version") == 1:
        return ("from an older jaxreg (manifest version 1, which recorded no fingerprint of the data, library "
                "versions or devices)")
    if manifest.get("version") != MANIFEST_VERSION or "checksum" not in manifest:
        return "not a jaxreg manifest (no version 2 and checksum)"
    if manifest["checksum"] != _checksum(manifest):
        return "damaged (its checksum does not match its contents)"
    return None


def _read_manifest(directory: str) -> tuple[dict | None, str | None]:
    """The manifest of ``directory`` and ``None``, or ``None`` and what is wrong with it."""
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError) as e:  # ValueError: JSON or UTF-8 damage
        return None, f"unreadable ({e})"
    problem = _manifest_problem(manifest)
    return (None, problem) if problem else (manifest, None)


def _intact_chunks(chunk_dir: str) -> list[tuple[str, bytes, dict]]:
    """``(file name, file bytes, header)`` of every chunk file in ``chunk_dir`` whose payload is intact."""
    found = []
    names = sorted(os.listdir(chunk_dir)) if os.path.isdir(chunk_dir) else []
    for name in names:
        if name.startswith(TEMPORARY_PREFIX) or not name.endswith(".npz"):
            continue
        try:
            with open(os.path.join(chunk_dir, name), "rb") as f:
                data = f.read()
            found.append((name, data, _parse_chunk(data).header))
        except (OSError, ValueError):
            continue
    return found


def _differences(manifest: dict, config: dict, lambdas: list[float], inputs: dict) -> list[str]:
    """What differs between the run recorded in ``manifest`` and this one, named for the user."""
    old = manifest["config"]
    diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
    if manifest["lambdas"] != [float(x) for x in lambdas]:
        diff.append("the λ grid (as computed from the options and the data)")
    before = manifest["inputs"]
    for key in sorted(set(before) | set(inputs)):
        was, now = before.get(key), inputs.get(key)
        if was == now:
            continue
        if key == "data":
            diff.append("the data's contents (sha256 " + f"{str(was)[:12]}… now {str(now)[:12]}…)")
        else:
            diff.append(f"{key} ({was} then, {now} now)")
    return diff


def _refusal(directory: str, diff: list[str]) -> ResumeError:
    hint = ("rerun with the same options, or pass only --resume DIR to reuse the saved ones; "
            "or start a new sweep with --out")
    if any(d.startswith("the data") for d in diff):
        hint = "restore the data it started with, or start a new sweep with --out"
    elif any(d.split(" ")[0] in ("jaxreg", "jax", "jaxlib", "devices") for d in diff):
        hint = ("finish it where it started (same library versions, devices, --local-devices), or start a new "
                "sweep with --out")
    return ResumeError(f"--resume {directory} was started with a different configuration "
                       f"(differs in: {'; '.join(diff)}); {hint}")


class ChunkStore:
    """Reads and writes the chunk checkpoints of one output directory: ``manifest.json`` and ``chunks/*.npz``.

    Args:
      directory: the output directory.
      config: the run's JSON-serialisable configuration.
      lambdas: the λ grid, as computed.
      resume: continue the run recorded in ``directory`` (:class:`ResumeError` when the configuration,
        λ grid or inputs differ, naming what changed); otherwise start one (:class:`ResumeError` when
        ``directory`` already holds one).
      log: where to report a damaged chunk or manifest (``None``: as a :class:`CheckpointWarning`, which
        Python shows by default, so that silencing the log does not hide damage).
      readonly: read, never write (the other processes of a multi-process sweep).
      inputs: fingerprints of the other inputs that determine the results, by name (e.g. ``{"data":
        sha256, "devices": device_fingerprint()}``); the library versions are always added.

    Example:
      >>> import tempfile, jax, jaxreg
      >>> d = tempfile.mkdtemp()
      >>> store = ChunkStore(d, {"steps": 10}, [0.1, 1.0], resume=False)
      >>> out = jaxreg.sweep(lambda lam: {"w": lam}, [0.1, 1.0], chunk_size=1, devices=jax.devices()[:1],
      ...                    on_chunk=lambda a, b, o: store.save("l2", a, b, o, chunk_size=1))
      >>> ChunkStore(d, {"steps": 10}, [0.1, 1.0], resume=True).load("l2", 1, 2)["w"]
      array([1.], dtype=float32)
    """

    def __init__(self, directory: str, config: dict, lambdas: list[float], *, resume: bool,
                 log: Callable[[str], Any] | None = print, readonly: bool = False, inputs: dict | None = None):
        self.directory = directory
        self.readonly = readonly  # other processes of a multi-process sweep: read, never write
        self.chunk_dir = os.path.join(directory, CHUNKS)
        self.log = log
        self.config = config
        self.inputs = {**library_versions(), **(inputs or {})}
        self.hash = config_hash(config, lambdas, self.inputs)
        if os.path.lexists(self.chunk_dir) and not os.path.isdir(self.chunk_dir):
            raise ResumeError(f"{self.chunk_dir} is a file, not the directory of a sweep's chunks; "
                              "move it away, or choose another --out")
        if resume:
            self.manifest = self._resumed(config, lambdas)
        else:
            if os.path.exists(os.path.join(directory, MANIFEST)):
                raise ResumeError(
                    f"--out {directory} already holds a sweep ({MANIFEST}); use --resume {directory} "
                    "to finish it, or choose another --out"
                )
            self.manifest = self._new_manifest(config, lambdas)
            if not readonly:
                os.makedirs(self.chunk_dir, exist_ok=True)  # the directory too, before its manifest
            self._write_manifest()
        if not readonly:
            os.makedirs(self.chunk_dir, exist_ok=True)

    def _new_manifest(self, config: dict, lambdas: list[float]) -> dict:
        return {"version": MANIFEST_VERSION, "hash": self.hash, "config": config,
                "lambdas": [float(x) for x in lambdas], "inputs": self.inputs, "penalties": {}}

    def _resumed(self, config: dict, lambdas: list[float]) -> dict:
        """The manifest to continue: the recorded one if it matches, else one rebuilt from intact chunks."""
        manifest, problem = _read_manifest(self.directory)
        if manifest is not None:
            diff = _differences(manifest, config, lambdas, self.inputs)
            if diff:
                raise _refusal(self.directory, diff)
            return manifest
        manifest = self._new_manifest(config, lambdas)
        intact = _intact_chunks(self.chunk_dir)
        ours = [c for c in intact if c[2].get("run") == self.hash]
        if not ours:
            if problem == "missing" and not intact:
                raise ResumeError(f"--resume {self.directory}: no {MANIFEST} there; is it a jaxreg sweep directory?")
            found = (f"its {len(intact)} intact chunk file(s) were written with other options, data or library "
                     "versions" if intact else "no intact chunk file there can rebuild it")
            raise ResumeError(f"--resume {self.directory}: {MANIFEST} is {problem}, and {found}; "
                              "start a new sweep with --out")
        for name, data, header in ours:
            entry = self._entry(header["penalty"], manifest)
            entry["chunk_size"] = header["chunk_size"]
            entry["chunks"][f"{header['start']}-{header['stop']}"] = {
                "file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self._report(f"{MANIFEST} is {problem}; rebuilt it from the {len(ours)} intact chunk file(s) of this run")
        self.manifest = manifest
        self._write_manifest()
        return manifest

    @staticmethod
    def saved_config(directory: str) -> dict:
        """The config the run in ``directory`` started with: from its manifest, else from its intact chunks."""
        manifest, problem = _read_manifest(directory)
        if manifest is not None:
            return manifest["config"]
        if problem == "missing" and not os.path.isdir(os.path.join(directory, CHUNKS)):
            raise ResumeError(f"--resume {directory}: no {MANIFEST} there; is it a jaxreg sweep directory?")
        configs = {json.dumps(h.get("config"), sort_keys=True) for _, _, h in _intact_chunks(
            os.path.join(directory, CHUNKS))}
        if len(configs) == 1:
            config = json.loads(configs.pop())
            if isinstance(config, dict):
                return config
        found = "none of its chunk files is intact" if not configs else "its chunk files disagree"
        raise ResumeError(f"--resume {directory}: {MANIFEST} is {problem} and {found}, so the options it started "
                          "with are unknown; pass them again with --resume DIR, or start a new sweep with --out")

    def _report(self, message: str) -> None:
        if self.log:
            self.log(f"  {message}")
        else:
            warnings.warn(message, CheckpointWarning, stacklevel=3)

    def _write_manifest(self) -> None:
        if self.readonly:
            return
        self.manifest["checksum"] = _checksum(self.manifest)
        atomic_write(os.path.join(self.directory, MANIFEST), json.dumps(self.manifest, indent=1))

    def chunk_size(self, penalty: str) -> int | None:
        """The chunk size an earlier run used for ``penalty`` (resume must reuse it)."""
        return self.manifest["penalties"].get(penalty, {}).get("chunk_size")

    def _entry(self, penalty: str, manifest: dict | None = None) -> dict:
        manifest = self.manifest if manifest is None else manifest
        return manifest["penalties"].setdefault(penalty, {"chunk_size": None, "chunks": {}})

    def save(self, penalty: str, start: int, stop: int, outputs: Any, chunk_size: int) -> None:
        """Write one finished chunk's ``outputs`` (rows ``start:stop``), then record it in the manifest."""
        if self.readonly:
            return
        entry = self._entry(penalty)
        if entry["chunk_size"] is None:
            entry["chunk_size"] = int(chunk_size)
        buf = io.BytesIO()
        np.savez(buf, **_flatten(outputs))
        header = {"run": self.hash, "penalty": penalty, "start": int(start), "stop": int(stop),
                  "chunk_size": entry["chunk_size"], "config": self.config}
        data = _chunk_bytes(header, buf.getvalue())
        name = _chunk_name(penalty, start, stop)
        atomic_write(os.path.join(self.chunk_dir, name), data)
        entry["chunks"][f"{start}-{stop}"] = {
            "file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        }
        self._write_manifest()

    def _read_chunk(self, penalty: str, start: int, stop: int) -> tuple[Any, str | None]:
        """The chunk's outputs and ``None``, or ``None`` and what is wrong with its file.

        The file's own header and payload hash decide, not the manifest's record of it: the
        manifest only says which chunks finished.
        """
        try:
            with open(os.path.join(self.chunk_dir, _chunk_name(penalty, start, stop)), "rb") as f:
                data = f.read()
        except OSError as e:
            return None, f"unreadable ({e.strerror or e})"
        try:
            chunk = _parse_chunk(data)
            expected = {"run": self.hash, "penalty": penalty, "start": start, "stop": stop}
            if any(chunk.header.get(k) != v for k, v in expected.items()):
                return None, "its header belongs to another run or rows"
            with np.load(io.BytesIO(chunk.payload), allow_pickle=False) as z:
                out = _unflatten({k: z[k] for k in z.files})
        except Exception as e:  # noqa: BLE001 - a damaged file: header, hash or archive
            return None, str(e)
        if any(v.shape[:1] != (stop - start,) for v in _flatten(out).values()):
            return None, "wrong number of rows"
        return out, None

    def load(self, penalty: str, start: int, stop: int) -> Any | None:
        """The outputs of rows ``start:stop`` if a finished chunk holds them intact, else ``None`` (recompute)."""
        if f"{start}-{stop}" not in self._entry(penalty)["chunks"]:
            return None
        out, problem = self._read_chunk(penalty, start, stop)
        if problem is None:
            return out
        self._report(f"chunk {_chunk_name(penalty, start, stop)} is corrupted ({problem}); recomputing it")
        del self._entry(penalty)["chunks"][f"{start}-{stop}"]
        self._write_manifest()
        return None


def remove_stray_temporaries(directory: str) -> list[str]:
    """Delete the temporary files a killed write left in ``directory`` and its ``chunks/``; returns their paths.

    Call it only while holding the directory's :class:`RunLock`: another run's temporary files are
    its writes in progress.

    Example:
      >>> import os, tempfile
      >>> d = tempfile.mkdtemp()
      >>> open(os.path.join(d, ".tmp-abcresults.csv"), "w").close()
      >>> [os.path.basename(p) for p in remove_stray_temporaries(d)]
      ['.tmp-abcresults.csv']
    """
    removed = []
    for folder in (directory, os.path.join(directory, CHUNKS)):
        names = os.listdir(folder) if os.path.isdir(folder) else []
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.startswith(TEMPORARY_PREFIX) and os.path.isfile(path):
                os.unlink(path)
                removed.append(path)
    return removed


class RunLock:
    """An exclusive lock on a run directory (``fcntl.flock`` on ``.jaxreg.lock``), held while the run lives.

    The lock file records who holds it (process id, host, start time) so that a run refused
    the lock can say which run has it. The operating system releases the lock when the
    holder exits, however it exits (a ``SIGKILL`` included), so a stale lock cannot block a
    resume. Where ``fcntl`` does not exist (Windows), nothing is locked.

    Example:
      >>> import tempfile
      >>> d = tempfile.mkdtemp()
      >>> with RunLock(d):
      ...     try:
      ...         RunLock(d).acquire()
      ...     except ResumeError as e:
      ...         print("in use by another jaxreg run (pid" in str(e))
      True
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self._file = None

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`ResumeError` naming the run that holds it."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks to take
            return self
        f = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "a process that has not yet written its name"
            f.close()
            raise ResumeError(f"{self.directory} is in use by another jaxreg run ({holder}); wait for it to "
                              "finish, or choose another directory") from None
        f.seek(0)
        f.truncate()
        started = _dt.datetime.now().isoformat(timespec="seconds")
        f.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        """Let go of the lock (closing the file releases it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        return self if self._file is not None else self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
