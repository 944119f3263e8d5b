"""One way to mask personal data and one stable pseudonym per caller, under a per-install key."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from acd.logs import configure_logging
from acd.privacy import Personal, PrivacyKeyError, Pseudonyms, mask_number, mask_text, masked_data, normalise_number


def test_numbers_keep_only_their_last_four_digits_and_short_ones_their_last() -> None:
    assert mask_number("56977771234") == "*******1234"
    assert mask_number("+56 9 7777 1234") == "+** * **** 1234"
    assert mask_number("2001") == "***1"  # an extension: 4 digits would be all of it
    assert mask_number("anonymous") == "********s"
    assert mask_number("") == ""


def test_typed_text_keeps_its_length_and_last_character() -> None:
    assert mask_text("12345678-5") == "*********5"
    assert masked_data({"rut": Personal("12345678-5"), "segmento": "compradores", "n": {"x": Personal("ab")}}) == {
        "rut": "*********5", "segmento": "compradores", "n": {"x": "*b"},
    }


@pytest.mark.parametrize("spelling", ["56977771234", "+56 9 7777 1234", "0056977771234", "977771234"])
def test_every_spelling_of_a_chilean_number_is_one_caller(spelling: str) -> None:
    assert normalise_number(spelling) == "56977771234"


def test_pseudonym_is_stable_per_key_and_reveals_nothing_without_it(tmp_path: Path) -> None:
    first = Pseudonyms.load(tmp_path, create=True, environ={})
    again = Pseudonyms.load(tmp_path, create=False, environ={})
    (tmp_path / "elsewhere").mkdir()
    other = Pseudonyms.load(tmp_path / "elsewhere", create=True, environ={})  # another install
    assert first.ref("56977771234") == again.ref("+56 9 7777 1234") != ""
    assert len(first.ref("56977771234")) == 16
    assert other.ref("56977771234") != first.ref("56977771234")
    assert first.caller("56977771234") == {"caller": "*******1234", "caller_ref": first.ref("56977771234")}
    key = tmp_path / "privacy.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "key" not in repr(first).replace("key=<hidden>", "")


def test_a_pseudonym_is_the_keyed_sha256_of_the_normal_number_so_stored_refs_keep_matching() -> None:
    import hmac

    pseudonyms = Pseudonyms(b"s3cret")
    for number in ("56977771234", "+56 9 7777 1234", "221234567"):
        normal = normalise_number(number)
        assert pseudonyms.ref(number) == hmac.digest(b"s3cret", normal.encode(), "sha256").hex()[:16]
    assert pseudonyms.ref("56977771234") == pseudonyms.ref("56977771234")  # the keyed state is copied, never used up


def test_environment_key_wins_and_a_reader_never_creates_a_key(tmp_path: Path) -> None:
    from_env = Pseudonyms.load(tmp_path, create=True, environ={"ACD_PRIVACY_KEY": "s3cret"})
    assert not (tmp_path / "privacy.key").exists()
    assert from_env.ref("56977771234") == Pseudonyms(b"s3cret").ref("56977771234")
    with pytest.raises(PrivacyKeyError, match="privacy.key: no privacy key"):
        Pseudonyms.load(tmp_path, create=False, environ={})
    assert not (tmp_path / "privacy.key").exists()


def test_log_lines_never_show_a_phone_number_even_panoramisk_debug_dumps(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("panoramisk").level)
    try:
        configure_logging("debug")
        logging.getLogger("panoramisk.manager").debug("action: Originate Channel: PJSIP/%s@customers", "56988881234")
        logging.getLogger("acd.x").info("call %s: CallerIDNum: +56977771234 at %.3f", "1764669001.12", 1764669001.123)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("panoramisk").setLevel(saved[2])
    err = capsys.readouterr().err
    assert "PJSIP/*******1234@customers" in err and "+*******1234" in err
    assert "56988881234" not in err and "56977771234" not in err
    assert "call 1764669001.12:" in err and "1764669001.123" in err  # call ids and times stay readable
