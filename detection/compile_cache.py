"""Compiled rules kept per rule file: in memory for reloads, on disk for restarts.

Compiling is the expensive part of loading rules (pySigma parsing, the pipelines, our compiler
and code generation: about 11.7 s for the 2,407 SigmaHQ Windows rules under both Windows
stacks on a quiet machine). A ``LoadedPart`` (one file's rules under every stack) is kept by a
key made of:

- the SHA-256 of the file's bytes (so a changed rule invalidates only its own file's entry),
- the stacks, their labels and the placeholders,
- ``ENGINE_VERSION`` and a digest of the source of the modules that shape compiled rules
  (``ENGINE_MODULES``): a change of the compiler invalidates every entry even if nobody bumped
  the constant,
- the Python version and the versions of pySigma and its pipeline plugins.

On disk (``directory``, the ``detection_cache_dir`` setting), an entry is one file
``<key>.rule``: a magic line, a BLAKE2 digest of the payload and the ``marshal``-ed payload
(the rules' metadata, index facts and ``detection.codegen.RuleImage``s: code objects and their
constants as data). Loading one is ``marshal.loads`` plus ``exec`` of each rule's code: the
whole Windows set loads in about 2 % of the time compiling it takes (``bench/detect.py``).
Because a code object is code, entries are only read from a directory that this user owns and
nobody else may write to (checked at each load; otherwise the cache stays in memory only and a
warning is logged); files are written with mode 0600 to a temporary name and renamed into
place, so a reader never sees half a file. A truncated or corrupt entry fails the digest or the
decoding, is ignored and rewritten. Entries of files that no longer
exist are not deleted (they are small; remove the directory to reclaim the space).
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from core.content import Issue
from detection.codegen import RuleImage, restore
from detection.compiler import CompiledRule
from detection.conditions import Node
from detection.loaded import LoadedPart, RuleInfo, Skipped

log = logging.getLogger(__name__)

# Part of every key: bump when the compiled form changes in a way the module digest misses.
ENGINE_VERSION = "detection-compiler-2"
# Modules whose source decides what a compiled rule is; their digest is part of every key.
ENGINE_MODULES = (
    "codegen",
    "compiler",
    "conditions",
    "literals",
    "loaded",
    "loader",
    "modifiers",
    "pipelines",
    "recipes",
    "regex_facts",
    "timeparts",
    "typed_values",
    "compile_cache",
    "parts",
)
PLUGINS = (
    "pysigma",
    "pysigma-pipeline-sysmon",
    "pysigma-pipeline-windows",
    "pysigma-backend-elasticsearch",
)
MAGIC = b"dijkwacht compiled rules 3\n"
_DIGEST = 16


class CompileCache:
    """Compiled rules per rule file content and load setting (see the module docstring).

    Kept by a long-lived loader (the collector's detection hook): a reload after editing one
    rule file parses and compiles that file only. With a ``directory``, a new process (a
    restart) loads unchanged files from disk instead of compiling them. Files with Sigma
    filters or correlations link rules across files and are never cached.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._disk: Path | None = None  # ``directory`` once checked by ``begin``
        self._parts: dict[tuple[str, str], LoadedPart] = {}
        self._environment: bytes | None = None
        self.stats = {"memory": 0, "disk": 0, "compiled": 0, "written": 0, "rejected": 0}

    def __len__(self) -> int:
        return len(self._parts)

    def key(self, data: bytes, setting: Sequence[Any]) -> str:
        """The entry name for a file's bytes under a load setting (stacks, placeholders)."""
        if self._environment is None:
            self._environment = environment()
        content = hashlib.sha256(data).digest()
        return hashlib.sha256(
            b"\0".join([content, repr(tuple(setting)).encode(), self._environment])
        ).hexdigest()

    def begin(self) -> None:
        """Check the directory (once per load, not per file) before ``get`` and ``put``."""
        self._disk = self._usable()

    def get(self, key: str, path: Path) -> LoadedPart | None:
        """The part for ``key`` (read from disk when not in memory), or None."""
        part = self._parts.get((str(path), key))
        if part is not None:
            self.stats["memory"] += 1
            return part
        folder = self._disk
        if folder is None:
            return None
        try:
            data = (folder / f"{key}.rule").read_bytes()
        except OSError:
            return None
        part = decode(data, path)
        if part is None:
            self.stats["rejected"] += 1
            log.warning("compile cache: entry %s for %s is damaged; compiling again", key, path)
            return None
        self.stats["disk"] += 1
        self._parts[(str(path), key)] = part
        return part

    def put(self, key: str, path: Path, part: LoadedPart) -> None:
        """Keep ``part``; on disk too when every rule in it has a storable image."""
        self.stats["compiled"] += 1
        self._parts[(str(path), key)] = part
        folder = self._disk
        if folder is None:
            return
        data = encode(part, path)
        if data is None:
            return
        try:
            write_atomically(folder / f"{key}.rule", data)
        except OSError as exc:
            log.warning("compile cache: cannot write %s: %s", folder, exc)
            return
        self.stats["written"] += 1

    def keep_only(self, used: Iterable[tuple[Path, str]]) -> None:
        """Forget in memory whatever the last load did not use (files changed or gone)."""
        wanted = {(str(path), key) for path, key in used}
        self._parts = {k: v for k, v in self._parts.items() if k in wanted}

    def _usable(self) -> Path | None:
        if self.directory is None:
            return None
        problem = private_directory(self.directory)
        if problem is not None:
            log.warning("compile cache: not using %s on disk: %s", self.directory, problem)
            self.directory = None  # say it once; compile (and cache in memory) from now on
            return None
        return self.directory


def environment() -> bytes:
    """Engine version, engine source digest, Python and plugin versions (part of every key)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ENGINE_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    versions = []
    for plugin in PLUGINS:
        try:
            versions.append(f"{plugin}={metadata.version(plugin)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{plugin}=-")
    parts = [ENGINE_VERSION, digest.hexdigest(), sys.version, *versions]
    return "\n".join(parts).encode()


def private_directory(directory: Path) -> str | None:
    """Create ``directory`` (mode 0700) if needed; why it is unsafe to load code from, or None.

    Unsafe: a symlink, not a directory, owned by another user, or writable by group or others
    (anyone who can write there could have us execute their code object).
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
    except OSError as exc:
        return f"cannot create it ({exc})"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "not a directory (or a symbolic link)"
    if info.st_uid != os.geteuid():
        return "owned by another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "writable by group or others"
    return None


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to a 0600 temporary file beside ``target`` and rename it into place."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def encode(part: LoadedPart, path: Path) -> bytes | None:
    """An entry's bytes, or None when a rule has no image (it is compiled after a restart)."""
    rules = []
    for label, number, rule in part.compiled:
        image = rule.image
        if image is None:
            return None
        node = rule.node
        rules.append(
            (
                label,
                number,
                rule.rule_id,
                rule.title,
                rule.level,
                rule.tags,
                rule.stack,
                node.literals,
                dict(node.equals),
                node.index_only,
                node.clauses,
                node.alternatives,
                image.code,
                image.constants,
                image.selections,
                image.selection_source,
            )
        )
    payload = (
        str(path),
        [(i.rule_id, i.title, i.level, i.tags, i.kind) for i in part.infos],
        [(p.source, p.line, p.field, p.message, p.severity, p.item) for p in part.problems],
        [(s.rule_id, s.stack, s.reason) for s in part.skipped],
        rules,
        part.attributes,
    )
    try:
        body = marshal.dumps(payload)
    except ValueError:  # a value marshal cannot hold: keep this file in memory only
        return None
    return MAGIC + hashlib.blake2b(body, digest_size=_DIGEST).digest() + body


def decode(data: bytes, path: Path) -> LoadedPart | None:
    """The part an entry holds, with ``path`` as its file; None if damaged or not ours."""
    head = len(MAGIC) + _DIGEST
    if not data.startswith(MAGIC) or len(data) < head:
        return None
    body = data[head:]
    if hashlib.blake2b(body, digest_size=_DIGEST).digest() != data[len(MAGIC) : head]:
        return None  # truncated or changed
    try:
        stored, infos, problems, skipped, rules, attributes = marshal.loads(body)
        here = str(path)
        return LoadedPart(
            infos=[RuleInfo(i[0], i[1], i[2], tuple(i[3]), here, i[4]) for i in infos],
            problems=[
                Issue(here if p[0] == stored else p[0], p[1], p[2], p[3], p[4], p[5])
                for p in problems
            ],
            skipped=[Skipped(*s) for s in skipped],
            compiled=[(r[0], r[1], _rule(r)) for r in rules],
            attributes=[dict(own) for own in attributes],
        )
    except Exception:  # any damage: the caller counts it, warns and compiles the file again
        return None


def _rule(stored: Sequence[Any]) -> CompiledRule:
    (_, _, rule_id, title, level, tags, stack, literals, equals, index_only) = stored[:10]
    clauses, alternatives, code, constants, selections, selection_source = stored[10:]
    image = RuleImage(code, tuple(constants), tuple(selections), selection_source)
    generated = restore(image)
    node = Node(
        generated.predicate,
        literals,
        _frozen(equals),
        index_only,
        tuple(clauses),
        tuple(alternatives),
    )
    return CompiledRule(
        rule_id=rule_id,
        title=title,
        level=level,
        tags=tuple(tags),
        stack=stack,
        node=node,
        selections=generated.selections,
        predicate=generated.predicate,
        image=image,
    )


def _frozen(equals: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    return {str(name): frozenset(values) for name, values in equals.items()}
