"""The sans-IO FastAGI parser: every odd input gives a value or AgiProtocolError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.asterisk.agi_protocol import (
    AgiHangupNotice,
    AgiProtocolError,
    AgiRequestParser,
    AgiResponseParser,
    AgiArgumentRefused,
    encode_command,
    parse_success,
)

HEADER = (
    b"agi_network: yes\n"
    b"agi_network_script: ivr/help?lang=es\n"
    b"agi_request: agi://127.0.0.1:4573/ivr/help?lang=es\n"
    b"agi_channel: PJSIP/caller-00000001\n"
    b"agi_uniqueid: 1700000000.1\n"
    b"agi_callerid: 56912345678\n"
    b"agi_dnid: 100\n"
    b"agi_arg_1: first\n"
    b"agi_arg_2: second arg\n"
    b"\n"
)


def test_header_split_across_many_chunks_parses_once_complete() -> None:
    parser = AgiRequestParser()
    request = None
    for index in range(len(HEADER)):
        assert request is None
        request = parser.feed(HEADER[index:index + 1])
    assert request is not None
    assert request.route == "ivr/help"
    assert request.params == {"lang": "es"}
    assert request.args == ("first", "second arg")
    assert request.caller == "56912345678"
    assert request.dialed == "100"
    assert request.unique_id == "1700000000.1"


def test_header_with_crlf_line_endings_is_accepted() -> None:
    request = AgiRequestParser().feed(HEADER.replace(b"\n", b"\r\n"))
    assert request is not None and request.route == "ivr/help"


def test_header_larger_than_cap_is_rejected_before_it_ends() -> None:
    parser = AgiRequestParser(max_header_bytes=600)
    with pytest.raises(AgiProtocolError, match="larger than 600 bytes"):
        for _ in range(100):
            parser.feed(b"agi_padding: " + b"x" * 50 + b"\n")


def test_garbage_line_is_named_in_the_error() -> None:
    with pytest.raises(AgiProtocolError, match="header line 2 is not 'agi_name: value'"):
        AgiRequestParser().feed(b"agi_network: yes\nGET / HTTP/1.1\n\n")


def test_header_without_request_or_script_is_rejected() -> None:
    with pytest.raises(AgiProtocolError, match="neither agi_request nor agi_network_script"):
        AgiRequestParser().feed(b"agi_channel: x\n\n")


def test_route_falls_back_to_request_url() -> None:
    request = AgiRequestParser().feed(b"agi_request: agi://127.0.0.1:4573/survey?flow=main\n\n")
    assert request is not None and request.route == "survey" and request.params == {"flow": "main"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_random_bytes_never_raise_anything_but_protocol_errors(chunks: list[bytes]) -> None:
    parser = AgiRequestParser(max_header_bytes=1024)
    try:
        for chunk in chunks:
            if parser.feed(chunk) is not None:
                break
    except AgiProtocolError:
        pass


def test_success_response_with_data_containing_spaces_and_parens() -> None:
    response = parse_success("result=1 (hello (world) x) endpos=1234")
    assert response.result_int == 1
    assert response.data == "hello (world) x"
    assert response.extras == {"endpos": "1234"}


def test_timeout_response_keeps_its_data_word() -> None:
    response = parse_success("result=0 (timeout)")
    assert response.result == "0" and response.data == "timeout"


def test_usage_block_is_one_response() -> None:
    parser = AgiResponseParser()
    assert parser.feed_line("520-Invalid command syntax.  Proper usage follows:") is None
    assert parser.feed_line("Usage: STREAM FILE <filename> <escape digits>") is None
    response = parser.feed_line("520 End of proper usage.")
    assert response is not None and response.code == 520 and "Usage: STREAM FILE" in response.text


def test_hangup_line_raises_notice_and_dead_channel_is_511() -> None:
    parser = AgiResponseParser()
    with pytest.raises(AgiHangupNotice):
        parser.feed_line("HANGUP")
    response = parser.feed_line("511 Command Not Permitted on a dead channel or intercept routine")
    assert response is not None and response.code == 511


def test_nonsense_response_is_a_protocol_error() -> None:
    with pytest.raises(AgiProtocolError):
        AgiResponseParser().feed_line("hello there")


def test_command_arguments_are_quoted_and_escaped() -> None:
    assert encode_command("STREAM FILE", "welcome", "0123") == b'STREAM FILE "welcome" "0123"\n'
    assert encode_command("SET VARIABLE", "X", 'say "hi" \\ bye') == b'SET VARIABLE "X" "say \\"hi\\" \\\\ bye"\n'
    with pytest.raises(ValueError):
        encode_command("EXEC", "Dial", "a\nHANGUP")


@pytest.mark.parametrize("bad", ["a\nHANGUP", "a\r", "100\x00", "x\r\nEXEC System rm"])
def test_an_argument_that_would_start_a_second_agi_command_is_refused_naming_command_and_position(bad: str) -> None:
    with pytest.raises(AgiArgumentRefused, match="AGI SET VARIABLE: argument 2 contains a line break or NUL") as refused:
        encode_command("SET VARIABLE", "ACD_TARGET", bad)
    assert bad not in str(refused.value)
