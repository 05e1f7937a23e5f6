"""Fuzz every decoder and parser with seeded mutations of real samples; crashes per million.

Each target takes bytes and may raise only its declared errors (`ParseError`, for the
app-audit CSV parser also `HeaderRow`); the file readers (pcap/pcapng, EVTX) and the syslog
framer may raise nothing: they turn damage into dead letters or error frames. Any other
exception is a crash. Inputs are corpus samples (shared/corpus: pcap/, logs/, sigma-dev/evtx/)
changed by 1-4 random edits (bit flips, boundary values, inserted, deleted or repeated bytes,
truncation, splices with another sample), plus a few purely random ones.

    .venv/bin/python bench/fuzz.py [--n 200000] [--seed 1] [--only dns,pcap]

prints per target the crashes per million and the slowest input, then as its last line the
standard JSON: value = crashes per million over all targets, baseline = inputs run, target 0.
tests/collectors/test_fuzz.py runs the same targets with a CI-sized count.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import random
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DIJKWACHT_SHARED_DIR") or REPO.parent / "shared") / "corpus"
NOW = datetime(2025, 1, 31, 9, 15, tzinfo=UTC)
_BOUNDARY = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
EVTX_SAMPLES = (  # first chunks of 8-30 records: Security, Sysmon and both
    "hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0008-Lateral Movement"
    "/T1550-Use Alternate Authentication Material/ID4624-Mimikatz Pass the hash.evtx",
    "hayabusa-sample-evtx/EVTX-to-MITRE-Attack/TA0007-Discovery/T1069-Permission Groups"
    " Discovery/ID4799-4624-Local admin group enumerated by SharpHound.evtx",
    "EVTX-ATTACK-SAMPLES/Defense Evasion/sysmon_13_rdp_settings_tampering.evtx",
    "EVTX-ATTACK-SAMPLES/Credential Access/ppl_bypass_ppldump_knowdll_hijack_sysmon_security.evtx",
)


@dataclass(slots=True)
class Target:
    """One decoder entry point: its seeds, how to call it and the errors it may raise."""

    name: str
    seeds: list[bytes]
    call: Callable[[bytes], object]
    declared: tuple[type[BaseException], ...] = ()
    max_size: int = 65_535
    cost: int = 1  # relative cost per input; CI divides its budget by it
    keep_size: bool = False  # EVTX: a mutant of another size is only ever a truncated file


@dataclass(slots=True)
class Result:
    name: str
    inputs: int = 0
    crashes: list[tuple[bytes, str]] = field(default_factory=list)
    slowest: float = 0.0
    slowest_input: bytes = b""

    @property
    def per_million(self) -> float:
        return len(self.crashes) * 1e6 / self.inputs if self.inputs else 0.0


# -- mutation ----------------------------------------------------------------------------------


def mutate(rng: random.Random, seed: bytes, seeds: list[bytes], max_size: int) -> bytes:
    """`seed` with 1-4 random edits; one input in 64 is random bytes instead."""
    if rng.random() < 1 / 64:
        return rng.randbytes(rng.choice((0, 1, 2, 13, 64, 512, 4096)))
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        size = len(data)
        op = rng.randrange(9)
        at = rng.randrange(size + 1)
        if op == 0 and size:  # flip a bit
            data[at % size] ^= 1 << rng.randrange(8)
        elif op == 1 and size:  # a random byte
            data[at % size] = rng.randrange(256)
        elif op == 2 and size:  # a boundary value over a 1/2/4/8-byte field, either order
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(_BOUNDARY) & ((1 << (8 * width)) - 1)
            data[at : at + width] = value.to_bytes(width, rng.choice(("little", "big")))
        elif op == 3:  # insert random bytes
            data[at:at] = rng.randbytes(rng.choice((1, 2, 4, 16, 256)))
        elif op == 4 and size:  # delete a range
            del data[at : at + rng.choice((1, 2, 4, 16, 256))]
        elif op == 5 and size:  # repeat a range
            piece = data[at : at + rng.choice((2, 8, 64))]
            data[at:at] = piece * rng.choice((2, 16, 256))
        elif op == 6:  # truncate
            del data[at:]
        elif op == 7:  # splice with another sample
            other = rng.choice(seeds)
            cut = rng.randrange(len(other) + 1)
            data[at:] = other[cut:]
        elif size:  # zero a run (what a bad disk sector does)
            run = len(data[at : at + rng.choice((4, 32, 256))])
            data[at : at + run] = bytes(run)
    return bytes(data[:max_size])


def inputs(target: Target, n: int, seed: int) -> Iterator[bytes]:
    """The seeds themselves first, then `n` mutants in total (same seed, same inputs)."""
    rng = random.Random(f"{target.name}:{seed}")
    for count, sample in enumerate(target.seeds):
        if count >= n:
            return
        yield sample
    for _ in range(n - min(n, len(target.seeds))):
        sample = rng.choice(target.seeds)
        data = mutate(rng, sample, target.seeds, target.max_size)
        yield data[: len(sample)] + sample[len(data) :] if target.keep_size else data


def run(target: Target, n: int, seed: int = 1) -> Result:
    """Call the target on `n` inputs; undeclared exceptions are crashes, kept with the input."""
    result = Result(target.name)
    clock = time.perf_counter
    for sample in target.seeds:  # warm up: lazy imports (scapy's DNS layer) are no input's cost
        with contextlib.suppress(Exception):
            target.call(sample)
    for data in inputs(target, n, seed):
        started = clock()
        try:
            target.call(data)
        except target.declared:
            pass
        except Exception as exc:  # the finding: anything undeclared is a crash
            where = traceback.extract_tb(exc.__traceback__)[-1]
            place = f"{Path(where.filename).name}:{where.lineno}"
            result.crashes.append((data, f"{type(exc).__name__} at {place}: {exc}"[:300]))
        elapsed = clock() - started
        result.inputs += 1
        if elapsed > result.slowest:
            result.slowest, result.slowest_input = elapsed, data
    return result


def retime(target: Target, data: bytes, repeat: int = 3) -> float:
    """The best of a few more runs of one input: on a busy machine the slowest input is often
    just the one that lost the CPU; a real slow path stays slow."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(Exception):
            target.call(data)
        best = min(best, time.perf_counter() - started)
    return best


# -- seeds from the corpus ---------------------------------------------------------------------


def _frames() -> list[tuple[int, bytes]]:
    """(linktype, frame) of every packet in the corpus pcaps."""
    from scapy.utils import RawPcapReader

    frames: list[tuple[int, bytes]] = []
    for path in sorted((CORPUS / "pcap").rglob("*.pcap*")):
        reader: Any = RawPcapReader(str(path))  # type: ignore[no-untyped-call]
        default = int(getattr(reader, "linktype", 1))
        for data, meta in reader:
            frames.append((int(getattr(meta, "linktype", default) or default), bytes(data)))
        reader.close()
    return frames


def _capture_heads() -> list[bytes]:
    """The first few records of every corpus capture, as small whole files."""
    heads = []
    for path in sorted((CORPUS / "pcap").rglob("*.pcap*")):
        data = path.read_bytes()
        if data[:4] == b"\n\r\r\n":  # pcapng: blocks carry their length at +4
            pos = 0
            for _ in range(8):
                if pos + 8 > len(data):
                    break
                pos += max(12, struct.unpack_from("<I", data, pos + 4)[0])
        else:
            order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
            pos = 24
            for _ in range(6):
                if pos + 16 > len(data):
                    break
                pos += 16 + struct.unpack_from(order + "I", data, pos + 8)[0]
        heads.append(data[:pos])
    return heads


def _one_chunk(path: Path) -> bytes:
    """File header + first chunk of an EVTX file, the header's chunk count and CRC fixed."""
    import zlib

    data = bytearray(path.read_bytes()[: 4096 + 65536])
    data[42:44] = (1).to_bytes(2, "little")
    data[124:128] = zlib.crc32(bytes(data[:120])).to_bytes(4, "little")
    return bytes(data)


def _lines(path: Path, limit: int = 400) -> list[bytes]:
    with path.open("rb") as handle:
        return [line.rstrip(b"\r\n") for _, line in zip(range(limit), handle, strict=False)]


def _jsonl_inputs(path: Path) -> list[bytes]:
    """The `input` messages of a syslog test-case file (`input_b64` when the text is absent)."""
    import base64

    found = []
    for line in _lines(path):
        case = orjson.loads(line)
        if isinstance(case.get("input"), str):
            found.append(case["input"].encode("utf-8", "surrogateescape"))
        elif isinstance(case.get("input_b64"), str):
            found.append(base64.b64decode(case["input_b64"]))
    return found


def _ecs_events(frames: list[tuple[int, bytes]]) -> list[Any]:
    """ECS events the packet summariser makes of the first corpus frames: `ecs-json` seeds."""
    from collectors.packets import PacketSummariser

    summariser = PacketSummariser(source="fuzz", received_at=NOW)
    for linktype, data in frames[:300]:
        summariser.add(linktype, data, NOW.timestamp())
    summariser.flush()
    return summariser.drain()[:40]


def targets() -> list[Target]:
    """Every decoder and parser with seeds from the corpus; empty when it is not there."""
    if not CORPUS.is_dir():
        return []
    from collectors import netdecode as nd
    from collectors.errors import ParseError
    from collectors.packets import PacketSummariser, read_capture
    from collectors.parsers import HeaderRow, SyslogFramer, get_parser
    from collectors.parsers.timestamps import parse_iso_loose, parse_rfc3339
    from core.privacy.service import Pseudonymiser

    frames = _frames()
    payloads = [packet.payload for packet in filter(None, (nd.decode_frame(*f) for f in frames))]
    dns = [p for p in payloads if len(p) > 12 and p[2] & 0x78 == 0][:300]
    tls = [p for p in payloads if nd.is_client_hello_start(p)][:100]
    http = [p for p in payloads if nd.looks_like_http_request(p)][:100]
    logs = CORPUS / "logs"
    syslog = [
        line
        for name in (
            "go-syslog_rfc5424_cases",
            "go-syslog_rfc3164_cases",
            "rsyslog_fuzz_seed_messages",
        )
        for line in _jsonl_inputs(logs / "syslog" / f"{name}.jsonl")
    ]
    access = _lines(logs / "access/secrepo/access.log.2021-10-22", 200)
    access += _lines(logs / "access/elastic-examples/apache_logs", 200)
    auth = _lines(logs / "fail2ban/sshd") + _lines(logs / "fail2ban/pam-generic", 100)
    events = _lines(CORPUS / "sigma-dev/events.jsonl", 200)
    audit_json = [
        b'{"time":"2025-01-31T09:15:00+01:00","system":"brp","actor":"E1","action":"view",'
        b'"subject":"111222333","result":"success","record_count":3}'
    ]
    audit_csv = [
        b"time,system,actor,actor_role,department,action,subject,record_type,purpose,case_ref,"
        b"channel,result,record_count",
        b"2025-01-31T09:15:00+01:00,brp,E1,clerk,burgerzaken,view,111222333,person,"
        b"afspraak,Z-1,balie,success,1",
    ]
    pseudonymiser = Pseudonymiser(b"fuzz-key-" * 4)
    summariser = PacketSummariser(source="fuzz")
    linktypes = sorted({linktype for linktype, _ in frames} | {0, 101, 113, 276})

    def frame(data: bytes) -> object:
        return nd.decode_frame(linktypes[data[0] % len(linktypes)] if data else 1, data[1:])

    def summarise(data: bytes) -> object:
        summariser.add(1, data, NOW.timestamp())
        return summariser.drain()

    def tls_hello(data: bytes) -> object:
        if nd.is_client_hello_start(data):
            nd.client_hello_length(data)
        return nd.parse_sni(data), nd.tls_version_name(data)

    def capture(data: bytes) -> object:
        return list(read_capture(io.BytesIO(data), source="fuzz", received_at=NOW))

    def evtx_file(data: bytes) -> object:
        from collectors.evtx import read_evtx

        return list(read_evtx(io.BytesIO(data), source="fuzz", received_at=NOW))

    def ecs_json(data: bytes) -> object:
        from dijkwacht.commands.ingest.readers import read_ecs_json

        return list(read_ecs_json(io.BytesIO(data)))

    def framing(data: bytes) -> object:
        framer = SyslogFramer(max_frame=4096)
        return (
            framer.feed(data[: len(data) // 2])
            + framer.feed(data[len(data) // 2 :])
            + framer.flush()
        )

    def times(data: bytes) -> object:
        text = data.decode("utf-8", "replace")
        with contextlib.suppress(ParseError):
            parse_rfc3339(text)
        return parse_iso_loose(text, default_tz=UTC)

    def parser(name: str) -> Callable[[bytes], object]:
        built = get_parser(name, tz=UTC, pseudonymiser=pseudonymiser)
        return lambda data: built.parse(data, received_at=NOW, source="fuzz")

    ecs = [orjson.dumps(event) for event in _ecs_events(frames)]
    stamp_seeds = [line[:40] for line in events[:50]] + [b"2025-01-31T09:15:00.123456789+01:00"]
    evtx_dir = CORPUS / "sigma-dev/evtx"
    evtx_seeds = [
        _one_chunk(evtx_dir / name) for name in EVTX_SAMPLES if (evtx_dir / name).is_file()
    ]
    found = [
        Target(
            "frame",
            [bytes([n % 7]) + f for n, (_, f) in enumerate(frames[:400])],
            frame,
            (ParseError,),
        ),
        Target("summariser", [f for _, f in frames[:400]], summarise, (ParseError,)),
        Target("dns", dns, nd.dns_fields, (ParseError,), cost=2),  # scapy reads the odd ones
        Target("tls", tls, tls_hello, (ParseError,)),
        Target("http", http, nd.parse_http_request, (ParseError,)),
        Target("pcap", _capture_heads(), capture, (), 1 << 20, 4),
        Target("evtx", evtx_seeds, evtx_file, (), 1 << 20, 10, keep_size=True),
        Target("framing", syslog, framing, (), 8192),
        Target("ecs-json", [b"\n".join(ecs[i : i + 4]) for i in range(0, len(ecs), 4)], ecs_json),
        Target("timestamps", stamp_seeds, times, (ParseError,), 256),
    ]
    for name, seeds in (
        ("syslog", syslog),
        ("rfc5424", syslog),
        ("rfc3164", syslog),
        ("nginx", access),
        ("apache", access),
        ("authlog", auth),
        ("json", events),
        ("app-audit-json", audit_json + events[:20]),
        ("app-audit-csv", audit_csv),
    ):
        found.append(Target(name, seeds, parser(name), (ParseError, HeaderRow), 8192))
    return [target for target in found if target.seeds]


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--n", type=int, default=200_000, help="inputs per target")
    options.add_argument("--seed", type=int, default=1)
    options.add_argument("--only", default="", help="comma-separated target names")
    args = options.parse_args(argv)
    logging.getLogger("scapy").setLevel(logging.ERROR)  # it warns on every damaged packet
    chosen = {name for name in args.only.split(",") if name}
    found = [t for t in targets() if not chosen or t.name in chosen]
    if not found:
        print(f"no targets (corpus at {CORPUS}?)", file=sys.stderr)
        return 2
    total = crashes = 0
    for target in found:
        n = max(1, args.n // target.cost)
        started = time.perf_counter()
        result = run(target, n, args.seed)
        total += result.inputs
        crashes += len(result.crashes)
        seconds = time.perf_counter() - started
        again = retime(target, result.slowest_input)
        print(
            f"{target.name:15} {result.inputs:8d} inputs {seconds:7.1f} s  "
            f"crashes/M {result.per_million:9.1f}  slowest {result.slowest * 1000:7.1f} ms "
            f"({again * 1000:.1f} ms again; {len(result.slowest_input)} B)"
        )
        for data, reason in result.crashes[:3]:
            print(f"    {reason}\n    input {data[:64].hex()}{'...' if len(data) > 64 else ''}")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak RSS of the whole run: {peak:.0f} MiB")
    value = crashes * 1e6 / total
    summary = {"metric": "fuzz_crashes_per_million", "value": round(value, 3)}
    summary |= {"baseline": total, "ratio": value / total, "target": 0}
    print(orjson.dumps(summary).decode())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # run as a script: the repository's packages
    sys.exit(main())
