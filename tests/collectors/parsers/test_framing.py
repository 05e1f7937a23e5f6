"""RFC 6587 framing: both framings, split anywhere, bounded memory."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.parsers import Frame, Framing, SyslogFramer


def _feed_in_pieces(framer: SyslogFramer, data: bytes, cuts: list[int]) -> list[Frame]:
    frames: list[Frame] = []
    start = 0
    for cut in sorted(set(cuts)):
        frames += framer.feed(data[start:cut])
        start = cut
    frames += framer.feed(data[start:])
    return frames + framer.flush()


_messages = st.lists(
    st.binary(min_size=1, max_size=60).filter(lambda m: b"\n" not in m and not m.endswith(b"\r")),
    min_size=1,
    max_size=8,
)


@given(_messages, st.lists(st.integers(0, 600), max_size=10))
def test_octet_counting_survives_any_split(messages: list[bytes], cuts: list[int]) -> None:
    data = b"".join(b"%d %s" % (len(m), m) for m in messages)
    framer = SyslogFramer()
    frames = _feed_in_pieces(framer, data, cuts)
    assert framer.framing is Framing.OCTET_COUNTING
    assert frames == [Frame(m) for m in messages]


@given(_messages, st.lists(st.integers(0, 600), max_size=10))
def test_lf_framing_survives_any_split(messages: list[bytes], cuts: list[int]) -> None:
    messages = [b"<13>" + m for m in messages]
    data = b"".join(m + b"\r\n" for m in messages)
    framer = SyslogFramer()
    assert _feed_in_pieces(framer, data, cuts) == [Frame(m) for m in messages]
    assert framer.framing is Framing.NON_TRANSPARENT


def test_unterminated_last_line_is_a_frame_at_close() -> None:
    framer = SyslogFramer()
    assert framer.feed(b"<13>a\n<13>b") == [Frame(b"<13>a")]
    assert framer.flush() == [Frame(b"<13>b")]


def test_oversized_lf_frame_becomes_error_and_is_skipped_without_buffering() -> None:
    framer = SyslogFramer(max_frame=10)
    frames = framer.feed(b"<13>" + b"x" * 100)
    frames += framer.feed(b"y" * 10_000)
    assert len(framer._buffer) == 0  # nothing of the oversized frame is kept
    frames += framer.feed(b"z\n<13>ok\n")
    assert [f.ok for f in frames] == [False, True]
    assert frames[0].data.startswith(b"<13>xxx") and len(frames[0].data) <= 256
    assert frames[1] == Frame(b"<13>ok")


def test_oversized_counted_frame_is_skipped_and_stream_continues() -> None:
    framer = SyslogFramer(max_frame=10)
    frames = framer.feed(b"30 " + b"a" * 20)
    frames += framer.feed(b"b" * 10 + b"2 ok")
    assert [(f.ok, f.data) for f in frames] == [(False, b"a" * 20), (True, b"ok")]


def test_bad_length_breaks_the_stream() -> None:
    framer = SyslogFramer()
    frames = framer.feed(b"5 hello12x4 nope")
    assert frames[0] == Frame(b"hello")
    assert not frames[1].ok
    assert framer.broken
    assert framer.feed(b"3 abc") == []


def test_connection_closed_inside_a_counted_frame() -> None:
    framer = SyslogFramer()
    assert framer.feed(b"10 abc") == []
    [frame] = framer.flush()
    assert frame.error and frame.data == b"10 abc"
