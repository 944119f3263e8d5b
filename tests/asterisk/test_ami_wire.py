"""The sans-IO AMI framing and header parser: read boundaries never change what is read,
a real Asterisk stream reads exactly as panoramisk read it, malformed input is reported
and skipped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from acd.asterisk.ami import _to_message
from acd.asterisk.ami_wire import AmiFramer, UnsafeActionError, check_action, event_name_of, parse_block
from acd.bench.ami_recording import read_recording

RECORDING = Path(__file__).resolve().parents[2] / "deploy" / "ami-recordings" / "helpline"

_KEY = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=":"), min_size=1, max_size=12)
# values: any text without line breaks (Asterisk never sends CR/LF inside a value), non-ASCII included
_VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20)


@st.composite
def _message(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    kind = draw(st.sampled_from(["Event", "Response"]))
    headers = [(kind, draw(_KEY))] + draw(st.lists(st.tuples(_KEY, _VALUE), max_size=6))
    expected: dict[str, str] = {}
    for key, value in headers:
        expected[key] = value if key not in expected else expected[key] + "\n" + value
    raw = "\r\n".join(f"{key}: {value}" for key, value in headers).encode()
    return raw, expected


@st.composite
def _stream(draw: st.DrawFn) -> tuple[bytes, list[dict[str, str]]]:
    greeting = b"Asterisk Call Manager/9.0.0\r\n" if draw(st.booleans()) else b""
    messages = draw(st.lists(_message(), max_size=8))
    parts = [greeting]
    for raw, _ in messages:
        parts.append(b"\r\n" * draw(st.integers(0, 2)) + raw + b"\r\n\r\n")  # stray line ends, as real streams have
    return b"".join(parts), [headers for _, headers in messages]


_GARBAGE = st.lists(
    st.one_of(st.sampled_from([b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"Event: X", b"Asterisk Call Manager/", b": ", b"x" * 40]), st.binary(max_size=30)),
    max_size=40,
).map(b"".join)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(len(data), cut) for cut in cuts})
    chunks, start = [], 0
    for point in points + [len(data)]:
        chunks.append(data[start:point])
        start = point
    return chunks


def _read(chunks: list[bytes], max_message_bytes: int = 1 << 20) -> tuple[list[bytes], AmiFramer]:
    framer = AmiFramer(max_message_bytes=max_message_bytes)
    blocks: list[bytes] = []
    for chunk in chunks:
        blocks += framer.feed(chunk)
    return blocks, framer


@settings(max_examples=300, deadline=None)
@given(_stream(), st.lists(st.integers(0, 2000), max_size=30))
def test_any_split_of_a_stream_gives_the_same_messages(stream: tuple[bytes, list[dict[str, str]]], cuts: list[int]) -> None:
    data, expected = stream
    whole, _ = _read([data])
    split, framer = _read(_split(data, cuts))
    assert split == whole
    assert [parse_block(block) for block in split] == [(headers, []) for headers in expected]
    assert framer.problems == []


@settings(max_examples=200, deadline=None)
@given(_GARBAGE, st.lists(st.integers(0, 800), max_size=20))
def test_oversized_and_garbage_input_reads_the_same_whatever_the_split(garbage: bytes, cuts: list[int]) -> None:
    """Any bytes, line ends in any place, blocks over the (small) size limit: same blocks,
    same number of problems, and the message after them is read."""
    data = garbage + b"\r\n\r\nEvent: Last\r\n\r\n"
    whole, framer_whole = _read([data], max_message_bytes=64)
    split, framer_split = _read(_split(data, cuts), max_message_bytes=64)
    assert split == whole
    assert len(framer_split.problems) == len(framer_whole.problems)
    assert split[-1] == b"Event: Last"  # whatever came before, the stream goes on


def test_the_greeting_is_read_even_one_byte_at_a_time() -> None:
    data = b"Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nMessage: ok\r\n\r\n"
    blocks, framer = _read([data[i:i + 1] for i in range(len(data))])
    assert framer.greeting == "9.0.0"
    assert blocks == [b"Response: Success\r\nMessage: ok"]


def test_a_stream_without_greeting_starts_with_its_first_message() -> None:
    blocks, framer = _read([b"Asteri", b"skEvent: X\r\n\r\n"])
    assert framer.greeting is None and blocks == [b"AsteriskEvent: X"]


def test_a_character_split_across_two_reads_is_kept() -> None:
    data = "Event: UserEvent\r\nCallerIDName: Íñigo Muñoz\r\n\r\n".encode()
    cut = data.index("Í".encode()) + 1  # in the middle of the two-byte character
    blocks, _ = _read([data[:cut], data[cut:]])
    assert parse_block(blocks[0])[0]["CallerIDName"] == "Íñigo Muñoz"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    headers, others = parse_block(b"Event: X\r\nName: a\xffb")
    assert headers == {"Event": "X", "Name": "a\ufffdb"} and others == []


def test_repeated_headers_are_joined_in_order() -> None:
    headers, _ = parse_block(b"Response: Success\r\nVariable: A=1\r\nVariable: B=2\r\nVariable: C=")
    assert headers["Variable"] == "A=1\nB=2\nC="


def test_garbage_lines_are_returned_apart_from_the_headers() -> None:
    headers, others = parse_block(b"Event: Hangup\r\nthis is not a header\r\nUniqueid: 1.2\r\n: no key\r\nEmpty:")
    assert headers == {"Event": "Hangup", "Uniqueid": "1.2", "Empty": ""}
    assert others == ["this is not a header", ": no key"]


def test_an_endless_message_is_dropped_and_reading_resumes() -> None:
    framer = AmiFramer(max_message_bytes=1000)
    assert framer.feed(b"Event: Huge\r\nData: " + b"x" * 600) == []
    assert framer.feed(b"x" * 600) == []  # over the limit: dropped now, not buffered for ever
    assert len(framer._buffer) <= 3
    assert framer.feed(b"y" * 5000) == []
    assert framer.feed(b"\r\n\r\nEvent: Next\r\n\r\n") == [b"Event: Next"]
    assert framer.problems == ["dropped a message of more than 1000 bytes (1219 bytes so far without an empty line)"]


def test_the_event_name_is_read_without_parsing_the_block() -> None:
    assert event_name_of(b"Event: VarSet\r\nChannel: X") == "VarSet"
    assert event_name_of(b"Event: FullyBooted") == "FullyBooted"
    assert event_name_of(b"Response: Success\r\nEvent: X") is None


@pytest.fixture(scope="module")
def recorded_blocks() -> list[bytes]:
    recording = read_recording(RECORDING)
    raw = b"".join(block + b"\r\n\r\n" for block in recording.events)
    blocks, framer = _read([raw[i:i + 65536] for i in range(0, len(raw), 65536)])
    assert framer.problems == []
    return blocks


def test_a_real_asterisk_stream_reads_exactly_as_panoramisk_read_it(recorded_blocks: list[bytes]) -> None:
    """Every event of the recorded lab stream (32,784, 23 kinds): same headers, same values,
    repeated headers joined the same way as the client's former panoramisk path."""
    assert len(recorded_blocks) == 32_784
    for block in recorded_blocks:
        ours, others = parse_block(block)
        theirs = _to_message(Message.from_line(block.decode("utf-8")))
        assert others == [] and ours == dict(theirs.headers), block[:200]
        assert event_name_of(block) == theirs.name


@pytest.fixture(scope="module")
def recorded_stream() -> bytes:
    """The first 2,000 events of the recorded lab stream, as Asterisk sent them (with a greeting)."""
    recording = read_recording(RECORDING)
    return b"Asterisk Call Manager/9.0.0\r\n" + b"".join(block + b"\r\n\r\n" for block in recording.events[:2000])


@pytest.mark.parametrize("piece", [1, 7])
def test_a_recorded_stream_in_tiny_pieces_reads_as_in_one_piece(recorded_stream: bytes, piece: int) -> None:
    whole, _ = _read([recorded_stream])
    split, framer = _read([recorded_stream[i:i + piece] for i in range(0, len(recorded_stream), piece)])
    assert len(whole) == 2000
    assert split == whole and framer.problems == [] and framer.greeting == "9.0.0"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=50), st.integers(0, 10_000))
def test_a_recorded_stream_in_random_pieces_reads_as_in_one_piece(recorded_stream: bytes, sizes: list[int], offset: int) -> None:
    data = recorded_stream[: 40_000 + offset]  # a stretch of the stream, ending anywhere
    chunks, position, turn = [], 0, 0
    while position < len(data):
        size = sizes[turn % len(sizes)]
        chunks.append(data[position:position + size])
        position, turn = position + size, turn + 1
    whole, framer_whole = _read([data])
    split, framer_split = _read(chunks)
    assert split == whole and framer_split.problems == framer_whole.problems == []


def test_a_big_message_in_small_reads_is_framed_in_bounded_time() -> None:
    """Half a megabyte in 8-byte reads (a slow link, a big ``Response: Follows``): the old
    framer copied and re-split its whole buffer on every read, about 10 s here; reading is
    linear now, well under a second.  The bound is generous on purpose (a shared machine)."""
    output = b"".join(b"Output: line %06d of a long command output\r\n" % i for i in range(12_000))
    message = b"Response: Follows\r\n" + output
    data = message + b"\r\n\r\nEvent: Next\r\n\r\n"
    framer = AmiFramer(max_message_bytes=1 << 20)
    blocks: list[bytes] = []
    started = time.perf_counter()
    for i in range(0, len(data), 8):
        blocks += framer.feed(data[i:i + 8])
    elapsed = time.perf_counter() - started
    assert blocks == [message.rstrip(b"\r\n"), b"Event: Next"]
    assert elapsed < 4.0, f"framing {len(data)} bytes in 8-byte reads took {elapsed:.1f} s"


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\n\r\nAction: Originate", "a\x00b"])
def test_an_action_header_with_a_line_break_or_nul_is_refused_naming_action_and_header(bad: str) -> None:
    with pytest.raises(UnsafeActionError) as refused:
        check_action({"Action": "Setvar", "Channel": "PJSIP/a-1", "Value": bad})
    assert (refused.value.action, refused.value.header) == ("Setvar", "Value")
    assert bad not in str(refused.value)  # the value may be a secret: never quoted
    with pytest.raises(UnsafeActionError, match="header 'Variable'"):
        check_action({"Action": "Originate", "Variable": ["A=1", f"B={bad}"]})
    with pytest.raises(UnsafeActionError, match="header 'X\\\\nY'"):
        check_action({"Action": "Setvar", "X\nY": "1"})


def test_ordinary_actions_pass_the_check() -> None:
    check_action({"Action": "Originate", "Channel": "PJSIP/agent1", "Variable": ["A=1", "B=Íñigo <56911111111>"], "Timeout": "30000"})
