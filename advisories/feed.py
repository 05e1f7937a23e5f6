"""Where advisories come from: files, a folder, or a CSAF provider over HTTP(S).

A URL ending in `provider-metadata.json` is a CSAF provider (CSAF 2.0 section 7.1.7): every
ROLIE feed of its `distributions` is read (`feed.entry[].link` with rel `self`, or
`content.src`) and every `directory_url` through its `index.txt`. Any other URL is one
document. Reading happens before the write unit opens, so no database lock waits on the
network; a document that cannot be fetched or read is one located problem, and the rest load.
Only http and https are followed, and redirects stay off (a feed points at its files).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx

from core.content import Issue

TIMEOUT_SECONDS = 30.0
MAX_BYTES = 20 * 1024 * 1024
MAX_DOCUMENTS = 5000


@dataclass(frozen=True, slots=True)
class Document:
    """One advisory document as read, with where it came from."""

    source: str
    doc: Any


def is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")


def _json_text(text: str, source: str) -> tuple[Any, list[Issue]]:
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [Issue(source, exc.lineno, "(document)", f"not JSON: {exc.msg}")]


def read_documents(sources: Iterable[str]) -> tuple[list[Document], list[Issue]]:
    """Every document under `sources` (files, folders, URLs) and every problem reading them."""
    docs: list[Document] = []
    issues: list[Issue] = []
    for source in sources:
        if is_url(source):
            with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
                found, problems = _from_url(client, source)
        else:
            found, problems = _from_path(Path(source))
        docs += found
        issues += problems
    return docs[:MAX_DOCUMENTS], issues


def _from_path(path: Path) -> tuple[list[Document], list[Issue]]:
    if not path.exists():
        return [], [Issue(str(path), None, "(file)", "no such file or folder")]
    files = sorted(p for p in path.rglob("*.json") if p.is_file()) if path.is_dir() else [path]
    docs: list[Document] = []
    issues: list[Issue] = []
    for file in files:
        if file.name == "provider-metadata.json":
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(Issue(str(file), None, "(file)", f"cannot read: {exc}"))
            continue
        doc, problems = _json_text(text, str(file))
        issues += problems
        if doc is not None:
            docs.append(Document(str(file), doc))
    return docs, issues


def _get(client: httpx.Client, url: str) -> tuple[str | None, Issue | None]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return None, Issue(url, None, "(url)", f"cannot fetch: {exc}")
    if response.status_code != 200:
        return None, Issue(url, None, "(url)", f"HTTP {response.status_code}")
    if len(response.content) > MAX_BYTES:
        return None, Issue(url, None, "(url)", f"larger than {MAX_BYTES} bytes")
    return response.text, None


def _from_url(client: httpx.Client, url: str) -> tuple[list[Document], list[Issue]]:
    text, problem = _get(client, url)
    if problem is not None or text is None:
        return [], [problem] if problem else []
    doc, issues = _json_text(text, url)
    if doc is None:
        return [], issues
    if not url.rstrip("/").endswith("provider-metadata.json"):
        return [Document(url, doc)], []
    docs: list[Document] = []
    for link in _provider_links(client, url, doc, issues):
        if not is_url(link):
            issues.append(Issue(url, None, "(link)", f"not an http(s) URL: {link!r}"))
            continue
        body, problem = _get(client, link)
        if problem is not None:
            issues.append(problem)
            continue
        parsed, problems = _json_text(body or "", link)
        issues += problems
        if parsed is not None:
            docs.append(Document(link, parsed))
        if len(docs) >= MAX_DOCUMENTS:
            break
    return docs, issues


def _provider_links(
    client: httpx.Client, url: str, metadata: Any, issues: list[Issue]
) -> Iterator[str]:
    distributions = metadata.get("distributions") if isinstance(metadata, dict) else None
    if not isinstance(distributions, list) or not distributions:
        issues.append(Issue(url, None, "distributions", "a provider lists its distributions"))
        return
    for index, distribution in enumerate(distributions):
        if not isinstance(distribution, dict):
            continue
        for feed in (distribution.get("rolie") or {}).get("feeds") or []:
            feed_url = urljoin(url, str(feed.get("url", "")))
            text, problem = _get(client, feed_url)
            if problem is not None or text is None:
                issues.append(
                    problem or Issue(url, None, f"distributions[{index}].rolie", "empty feed")
                )
                continue
            body, problems = _json_text(text, feed_url)
            issues += problems
            entries = ((body or {}).get("feed") or {}).get("entry") or []
            if not isinstance(entries, list):
                issues.append(Issue(feed_url, None, "feed.entry", "must be a list"))
                continue
            for entry in entries:
                link = _entry_link(entry)
                if link:
                    yield urljoin(feed_url, link)
        directory = distribution.get("directory_url")
        if directory:
            base = str(directory).rstrip("/") + "/"
            text, problem = _get(client, urljoin(base, "index.txt"))
            if problem is not None or text is None:
                issues.append(problem or Issue(base, None, "index.txt", "empty"))
                continue
            for line in text.splitlines():
                if line.strip():
                    yield urljoin(base, line.strip())


def _entry_link(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return None
    for link in entry.get("link") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    content = entry.get("content")
    if isinstance(content, dict) and content.get("src"):
        return str(content["src"])
    return None
