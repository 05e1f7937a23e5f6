"""The matcher's event walks: generated code, one function per key layout of the events.

An event is read through the walk of its key layout (`tuple(event)`, as the Sigma engine's
Shape cache in detection/engine.py): the walk reads only the top-level groups and flat dotted
keys of the indicator fields that the layout has, so a network event costs no probe of `dns`,
`url`, `file` or `email`, and no check for flat dotted keys. Layouts and walks are remembered
per matcher, bounded; past the bound an event takes the general walk, which probes every
group. The code is generated with our own constant field names only (no feed or event data)
and each value meets a cheap necessary condition inline, so a miss calls nothing; the probe
(`Matcher._probe_*`) decides every hit exactly.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intel.matcher import Hit, Matcher

Probe = Callable[[str, int, str, list["Hit"]], None]
Walk = Callable[[Mapping[str, Any], int, list["Hit"]], None]

MAX_LAYOUTS = 1024  # key layouts remembered per matcher
MAX_WALKS = 256  # generated walks per matcher (layouts with the same indicator fields share one)
V4_SEEN_MAX = 4_096  # small enough to stay in cache between batches of the Sigma rules
# The characters of a host that `_url_host` returns unchanged: a URL host made of these alone,
# without a trailing dot, is its own canonical host, so a miss needs no parsing.
PLAIN_HOST = "abcdefghijklmnopqrstuvwxyz0123456789.-_"


def probe_any(value: Any, probe: Probe, index: int, path: str, hits: list[Hit]) -> None:
    """The general walk's reading of one field: a text, or the texts of a list."""
    if type(value) is str:
        probe(value, index, path, hits)
    elif type(value) is list:
        for item in value:
            if type(item) is str:
                probe(item, index, path, hits)


class Walker:
    """The walks of one matcher; `match(events, hits)` appends the hits of a batch."""

    def __init__(
        self,
        matcher: Matcher,
        fields: Sequence[tuple[str, str]],
        *,
        max_layouts: int = MAX_LAYOUTS,
        max_walks: int = MAX_WALKS,
        max_seen: int = V4_SEEN_MAX,
    ) -> None:
        probes: dict[str, Probe] = {
            "ip": matcher._probe_ip, "domain": matcher._probe_domain, "url": matcher._probe_url,
            "hash": matcher._probe_hash, "email": matcher._probe_email,
            "ua": matcher._probe_agent,
        }  # fmt: skip
        # Fields grouped by their first key (`file.hash` read once for md5, sha1 and sha256).
        self._groups: dict[str, list[tuple[str, str | None, str, str]]] = {}
        for family, path in fields:
            top, second, *third = path.split(".")  # every field path has two or three parts
            self._groups.setdefault(top, []).append(
                (second, third[0] if third else None, family, path)
            )
        self._flat = {path: family for family, path in fields}
        self._matcher = matcher
        self._max_layouts = max_layouts
        self._max_walks = max_walks
        self._layouts: dict[tuple[Any, ...], Walk | bool] = {}  # False: nothing to read
        self._walks: dict[tuple[tuple[str, ...], tuple[str, ...]], Walk] = {}
        self._scope: dict[str, Any] = {f"probe_{family}": probe for family, probe in probes.items()}
        self._scope.update(
            probe_any=probe_any,
            flat=self._flat_probes(probes),
            domain_tails=matcher._domain_tails,
            hashes=matcher.hashes,
            emails=matcher.emails,
            agents=matcher.agents,
            ips=matcher.ips,
            url_hosts=matcher._url_hosts,
            PLAIN_HOST=PLAIN_HOST,
            # Addresses repeat (a workstation, a resolver): whether one lies in a range is kept
            # per matcher, bounded, so a repeat costs one dict probe instead of parse + bisect.
            v4_seen={},
            V4_SEEN_MAX=max_seen,
            blocks_v4=matcher._v4_blocks,
            starts_v4=matcher._v4_starts,
            owners_v4=matcher._v4_owners,
            bisect=bisect_right,
            from_bytes=int.from_bytes,
            inet_pton=socket.inet_pton,
            AF_INET=socket.AF_INET,
            BIG="big",
        )
        self._general = self._compile(None, ())

    def _flat_probes(self, probes: Mapping[str, Probe]) -> dict[str, Probe]:
        return {path: probes[family] for path, family in self._flat.items()}

    def match(self, events: Sequence[Mapping[str, Any]], hits: list[Hit]) -> None:
        layouts = self._layouts
        for index, event in enumerate(events):
            walk = layouts.get(tuple(event))
            if walk or (walk is None and (walk := self._learn(event))):
                walk(event, index, hits)  # type: ignore[operator]

    def _learn(self, event: Mapping[str, Any]) -> Walk | bool:
        """The walk of a new layout (False: it has no indicator field), remembered."""
        keys = tuple(event)
        present = set(keys)
        tops = tuple(top for top in self._groups if top in present)
        flats = tuple(path for path in self._flat if path in present)
        walk: Walk | bool = False
        if tops or flats:
            found = self._walks.get((tops, flats))
            if found is None:
                if len(self._walks) >= self._max_walks:
                    return self._general
                found = self._walks[tops, flats] = self._compile(tops, flats)
            walk = found
        if len(self._layouts) < self._max_layouts:
            self._layouts[keys] = walk
        return walk

    def _compile(self, tops: tuple[str, ...] | None, flats: tuple[str, ...]) -> Walk:
        """The walk reading groups `tops` and flat keys `flats`, known present; with `tops`
        None, the general walk: every group if present, and any flat key."""
        lines = ["def walk(event, index, hits):"]
        for top in self._groups if tops is None else tops:
            # A key is tested with `in` before it is read: most fields are absent, and a
            # containment test costs less than a `get` call.
            if tops is None:
                lines += [f"    if {top!r} in event:", f"        node = event[{top!r}]"]
            else:
                lines += ["    if True:", f"        node = event[{top!r}]"]
            lines.append("        if node.__class__ is dict:")
            nested: dict[str, list[tuple[str, str, str]]] = {}
            for second, third, family, path in self._groups[top]:
                if third is None:
                    lines += self._field("            ", "node", second, family, path)
                else:
                    nested.setdefault(second, []).append((third, family, path))
            for second, leaves in nested.items():
                lines += [
                    f"            if {second!r} in node:",
                    f"                mid = node[{second!r}]",
                    "                if mid.__class__ is dict:",
                ]
                for third, family, path in leaves:
                    lines += self._field("                    ", "mid", third, family, path)
        for path in flats:
            lines += self._field("    ", "event", path, self._flat[path], path, present=True)
        if tops is None:
            lines += [
                "    if not flat.keys().isdisjoint(event.keys()):",
                "        for path in flat.keys() & event.keys():",
                "            probe_any(event[path], flat[path], index, path, hits)",
            ]
        lines.append("    return None")
        exec(compile("\n".join(lines), "<intel-walk>", "exec"), self._scope)
        walk: Walk = self._scope.pop("walk")
        return walk

    def _field(
        self, indent: str, node: str, key: str, family: str, path: str, *, present: bool = False
    ) -> list[str]:
        """Lines that read one field, `node[key]`: a text, or each text of a list, through
        the family's inline condition."""
        lines = [] if present else [f"{indent}if {key!r} in {node}:"]
        inner = indent if present else indent + "    "
        return [
            *lines,
            f"{inner}value = {node}[{key!r}]",
            f"{inner}if value.__class__ is str:",
            *(f"{inner}    {line}" for line in self._condition(family, "value", path)),
            f"{inner}elif value.__class__ is list:",
            f"{inner}    for item in value:",
            f"{inner}        if item.__class__ is str:",
            *(f"{inner}            {line}" for line in self._condition(family, "item", path)),
        ]

    def _condition(self, family: str, text: str, path: str) -> list[str]:
        """Lines that call the family's probe on `text` only when a cheap necessary condition
        for a hit holds (a miss allocates at most one copy and calls nothing)."""
        call = f"probe_{family}({text}, index, {path!r}, hits)"
        matcher = self._matcher
        if family == "ip":
            if not matcher._v4_ranges:
                return [f"if {text} in ips or ':' in {text}:", f"    {call}"]
            # Whether the probe may find anything is remembered per address text (a repeat
            # costs one dict probe): an exact address, or a range's /16 block and interval.
            return [
                f"inside = v4_seen.get({text})",
                "if inside is None:",
                f"    if {text} in ips:",
                "        inside = True",
                "    else:",
                "        try:",
                f"            number = from_bytes(inet_pton(AF_INET, {text}), BIG)",
                "            inside = blocks_v4[number >> 16] and (",
                "                owners_v4[bisect(starts_v4, number) - 1] is not None",
                "            )",
                "        except OSError:",
                "            inside = True  # not a dotted quad: the probe decides",
                "    if len(v4_seen) >= V4_SEEN_MAX:",
                "        v4_seen.clear()",
                f"    v4_seen[{text}] = inside",
                "if inside:",
                f"    {call}",
            ]
        if family == "domain" and matcher._domain_tails is not None:
            # The last two labels, lowered (lowering maps no character to a dot, so the tail
            # of the lowered name is the lowered tail); a trailing dot goes to the probe. One
            # `rsplit` finds them: `str.rfind` with a range is a METH_VARARGS call in 3.11
            # (an argument tuple, then PyArg_ParseTuple), and two of them cost 6.6% more
            # instructions on the bench's DNS events (callgrind, session 4).
            return [
                f"labels = {text}.rsplit('.', 2)",
                "if len(labels) == 3:",
                f"    if {text}[len(labels[0]) + 1 :].lower() in domain_tails or not labels[2]:",
                f"        {call}",
                "elif len(labels) == 2 and labels[0]:",
                f"    if {text}.lower() in domain_tails or not labels[1]:",
                f"        {call}",
            ]
        if family == "url" and "" not in matcher._url_hosts:
            # The text between the first `//` and the next `/`: when it is plain (lower case,
            # no port, user info, query or trailing dot) it is the host `_url_host` would
            # return. Found by `partition` (METH_O) rather than two `str.find` (METH_VARARGS,
            # as above): 5% fewer instructions on the bench's web events.
            return [
                f"_, slashes, rest = {text}.partition('//')",
                "if slashes:",
                "    host = rest.partition('/')[0]",
                "    if host in url_hosts or host.strip(PLAIN_HOST) or host[-1:] == '.':",
                f"        {call}",
            ]
        guard = {
            "hash": f"{text}.lower() in hashes",
            "email": f"(key := {text}.lower()) in emails or not key.isascii()",
            "ua": f"{text} in agents or ((bare := {text}.strip()) is not {text}"
            " and bare in agents)",
        }.get(family, text)
        return [f"if {guard}:", f"    {call}"]
