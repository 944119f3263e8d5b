"""sipp harness: real SIP callers and agents for the lab, tests, demo and benchmarks.

Scenarios are generated from a short list of steps, so a test reads like what the caller
does ("dial 100, wait 2 s, press 1, hang up") instead of 80 lines of SIP XML.  Every
wait listens for a BYE from Asterisk, so a caller that the IVR hangs up on ends cleanly
and the harness reports who hung up.

sipp comes from the Debian package ``sip-tester``; its RFC 4733 DTMF and G.711 audio
captures live in ``/usr/share/sip-tester``.

Long on purpose: the scenario generator and the runner that starts it are one contract
(a step list in, a per-dialog result out); the SIP text each step writes must match what
the runner parses back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

from acd.lab.ports import free_udp_port

PCAP_DIR = Path(os.environ.get("ACD_SIPP_PCAP_DIR", "/usr/share/sip-tester"))
DTMF_PCAP = {**{str(d): f"dtmf_2833_{d}.pcap" for d in range(10)}, "*": "dtmf_2833_star.pcap", "#": "dtmf_2833_pound.pcap"}
AUDIO_PCAP = "g711a.pcap"


@dataclass(frozen=True)
class Wait:
    """Stay on the line for ``seconds`` (a BYE from Asterisk ends the call cleanly)."""

    seconds: float


@dataclass(frozen=True)
class Dtmf:
    """Press keys, one every ``gap`` seconds, by SIP INFO or RFC 4733 RTP events."""

    digits: str
    mode: str = "info"
    gap: float = 0.3


@dataclass(frozen=True)
class Audio:
    """Send real G.711 audio (a recording of speech) for its length (about 8 s)."""


@dataclass(frozen=True)
class Hangup:
    """The caller hangs up."""


@dataclass(frozen=True)
class AwaitHangup:
    """Wait up to ``seconds`` for Asterisk to hang up."""

    seconds: float = 30.0


Step = Union[Wait, Dtmf, Audio, Hangup, AwaitHangup]

_SDP = """v=0
o=acd 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""


def _media_to(scenario: str, port: int | None) -> str:
    """The scenario with its SDP offering ``port`` for media (None: sipp's own media port)."""
    if port is None:
        return scenario
    if not 0 < port < 65536:
        raise ValueError(f"rtp_to {port}: not a UDP port")
    return scenario.replace("m=audio [media_port] ", f"m=audio {port} ")


def _reply(
    status: str, *, tag: str = "", contact: str = "", cseq: str = "[last_CSeq:]", sdp: bool = False, retrans: bool = False
) -> str:
    """One SIP response as a sipp ``<send>`` (dialog headers copied from the request)."""
    lines = [f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]", f"[last_To:]{tag}", "[last_Call-ID:]", cseq]
    if contact:
        lines.append(f"Contact: {contact}")
    if sdp:
        lines += ["Content-Type: application/sdp", "Content-Length: [len]", "", _SDP]
    else:
        lines += ["Content-Length: 0", "", ""]
    opening = '<send retrans="500">' if retrans else "<send>"
    return f"{opening}<![CDATA[\n" + "\n".join(lines) + "]]></send>\n"


_AGENT_TAG = ";tag=[pid]SIPpTag01[call_number]"
_AGENT_CONTACT = "<sip:[local_ip]:[local_port];transport=[transport]>"


def _request(method: str, cseq: int, extra: str = "", body: str = "") -> str:
    content_type = ""
    if body:
        content_type = "Content-Type: application/sdp\n" if method == "INVITE" else "Content-Type: application/dtmf-relay\n"
    to_tag = "" if method == "INVITE" else "[peer_tag_param]"
    return f"""<send retrans="500"><![CDATA[
{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "[field0]" <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
{extra}{content_type}Content-Length: [len]

{body}]]></send>
"""


def caller_scenario(steps: Sequence[Step], from_user: str = "caller") -> str:
    """A UAC: INVITE ``[service]`` with caller id ``[field0]``, then the steps, then BYE.

    Caller number and dialed number come from the injection file, so one scenario can
    place many different calls.  ``from_user`` is the SIP user Asterisk identifies the
    endpoint by (``caller``; ``agent2`` for a call from an agent's phone).
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", from_user):
        raise ValueError(f"from_user {from_user!r}: letters, digits, '_' or '-'")
    cseq = itertools.count(2)
    labels = itertools.count(1)
    parts = [
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="acd caller">\n',
        _request("INVITE", 1, extra="P-Asserted-Identity: <sip:[field0]@[local_ip]>\n", body=_SDP),
        '<recv response="100" optional="true"/>\n<recv response="180" optional="true"/>\n',
        '<recv response="183" optional="true"/>\n<recv response="200" rtd="true"/>\n',
        """<send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "[field0]" <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
""",
    ]

    def wait(seconds: float) -> str:
        label = f"w{next(labels)}"
        millis = max(1, int(seconds * 1000))
        return f'<recv request="BYE" timeout="{millis}" ontimeout="{label}" next="remote_bye"/>\n<label id="{label}"/>\n'

    ended = False
    for step in steps:
        if isinstance(step, Wait):
            parts.append(wait(step.seconds))
        elif isinstance(step, Dtmf):
            for digit in step.digits:
                if step.mode == "info":
                    body = f"Signal={digit}\nDuration=160\n"
                    parts.append(_request("INFO", next(cseq), body=body))
                    parts.append('<recv response="200"/>\n')
                elif step.mode == "rfc4733":
                    parts.append(f'<nop><action><exec play_pcap_audio="{PCAP_DIR / DTMF_PCAP[digit]}"/></action></nop>\n')
                    parts.append(wait(0.25))
                else:
                    raise ValueError(f"unknown DTMF mode {step.mode!r} (info or rfc4733)")
                parts.append(wait(step.gap))
        elif isinstance(step, Audio):
            parts.append(f'<nop><action><exec play_pcap_audio="{PCAP_DIR / AUDIO_PCAP}"/></action></nop>\n')
        elif isinstance(step, AwaitHangup):
            millis = int(step.seconds * 1000)
            parts.append(f'<recv request="BYE" timeout="{millis}" next="remote_bye"/>\n')
            ended = True
            break
        elif isinstance(step, Hangup):
            break
    if not ended:
        parts.append(_request("BYE", next(cseq)))
        parts.append('<recv response="200" crlf="true"/>\n<nop next="done"/>\n')
    parts.append('<label id="remote_bye"/>\n' + _reply("200 OK", contact="<sip:caller@[local_ip]:[local_port]>"))
    parts.append(
        """<label id="done"/>
<ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000"/>
</scenario>
"""
    )
    return "".join(parts).replace("<sip:caller@", f"<sip:{from_user}@")


def agent_scenario(
    *,
    answer_after_s: float = 0.5,
    talk_s: float = 5.0,
    answer: bool = True,
    audio: bool | Path = False,
    answers_options: bool = False,
    cancel_ok: bool = False,
) -> str:
    """A UAS phone: rings, answers after ``answer_after_s``, talks ``talk_s``, hangs up.

    With ``answer=False`` it rings until Asterisk cancels (ring-no-answer).
    A BYE from Asterisk during the talk ends the call cleanly.  ``answers_options``: it
    also answers Asterisk's qualify OPTIONS (each one is a short "call" of its own).
    ``cancel_ok``: a CANCEL while it rings (before ``answer_after_s``) ends that call
    cleanly too, so one phone can see a ring hung up and then answer the next one.
    """
    scenario = _agent_scenario(answer_after_s, talk_s, answer, audio, cancel_ok)
    if not answers_options:
        return scenario
    head, _, rest = scenario.partition("<recv request=\"INVITE\"")
    options_ok = (
        '<nop next="the_end"/>\n<label id="options_ok"/>\n'
        + _reply("200 OK", tag=";tag=[pid]SIPpTag02[call_number]")
        + '<label id="the_end"/>\n</scenario>'
    )
    rest = rest.replace("</scenario>", options_ok)
    return head + '<recv request="OPTIONS" optional="true" next="options_ok"/>\n<recv request="INVITE"' + rest


def _agent_scenario(answer_after_s: float, talk_s: float, answer: bool, audio: bool | Path, cancel_ok: bool = False) -> str:
    ring = max(1, int(answer_after_s * 1000))
    talk = max(1, int(talk_s * 1000))
    # The headers an answering phone needs for its own BYE (sipp rejects unused captures).
    captures = """
  <action>
    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_party"/>
    <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_party"/>
    <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
  </action>
""" if answer else ""
    head = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="acd agent">
<recv request="INVITE" crlf="true">{captures}</recv>
{_reply("180 Ringing", tag=_AGENT_TAG, contact=_AGENT_CONTACT)}"""
    if not answer:
        return (
            head
            + '<recv request="CANCEL"/>\n'
            + _reply("200 OK", tag=_AGENT_TAG)
            + _reply("487 Request Terminated", tag=_AGENT_TAG, cseq="CSeq: [cseq] INVITE")
            + '<recv request="ACK"/>\n</scenario>\n'
        )
    pcap = audio if isinstance(audio, Path) else PCAP_DIR / AUDIO_PCAP  # a Path: that recording instead of sipp's
    play = f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n' if audio else ""
    if cancel_ok:  # ring for answer_after_s unless Asterisk cancels first
        ringing = (
            f'<recv request="CANCEL" timeout="{ring}" ontimeout="answer"/>\n'
            + _reply("200 OK", tag=_AGENT_TAG)
            + _reply("487 Request Terminated", tag=_AGENT_TAG, cseq="CSeq: [cseq] INVITE")
            + '<recv request="ACK"/>\n<nop next="done"/>\n<label id="answer"/>\n'
        )
    else:
        ringing = f'<pause milliseconds="{ring}"/>\n'
    # Under load Asterisk may retransmit its INVITE (no answer seen within T1) after the
    # phone answered; sipp used to abort the call on it ("unexpected message while
    # expecting ACK"), leaving Asterisk's side bridged.  It is taken as what it is, a copy
    # of the INVITE being answered: the 200 OK keeps being retransmitted until the ACK.
    return head + f"""{ringing}{_reply("200 OK", tag=_AGENT_TAG, contact=_AGENT_CONTACT, sdp=True, retrans=True)}<recv request="INVITE" optional="true"/>
<recv request="ACK" rtd="true" crlf="true"/>
{play}<recv request="BYE" timeout="{talk}" ontimeout="agent_bye" next="remote_bye"/>
<label id="agent_bye"/>
<send retrans="500"><![CDATA[
BYE [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From:[$local_party];tag=[pid]SIPpTag01[call_number]
To:[$remote_party]
[last_Call-ID:]
CSeq: 2 BYE
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200" crlf="true"/>
<nop next="done"/>
<label id="remote_bye"/>
{_reply("200 OK")}<label id="done"/>
</scenario>
"""


#: How often a sipp that could not bind its media ports is started again, and how long it is watched.
BIND_RETRIES = 3
BIND_CHECK_S = 0.2


def _with_media_port(args: list[str], port: int) -> list[str]:
    """``args`` with the value after ``-mp`` replaced by ``port``."""
    out = list(args)
    out[out.index("-mp") + 1] = str(port)
    return out


def free_media_port() -> int:
    """An even port whose next three are free too (sipp uses media port .. +3)."""
    for _ in range(50):
        port = free_udp_port() & ~1
        try:
            sockets = []
            for offset in range(4):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free UDP media ports on 127.0.0.1")


@dataclass
class SippResult:
    """What sipp itself saw: exit code, successful/failed calls, who hung up."""

    name: str
    returncode: int
    successful: int
    failed: int
    log_dir: Path
    remote_byes: int = 0
    messages: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0

    def describe(self) -> str:
        return f"sipp {self.name}: exit {self.returncode}, {self.successful} ok, {self.failed} failed (logs: {self.log_dir})"


_STAT_FIELD = re.compile(r"^\s*(Successful call|Failed call)\s*\|\s*\d+\s*\|\s*(\d+)", re.MULTILINE)


@dataclass
class SippRunner:
    """Runs sipp processes against the lab and keeps their logs in ``log_dir``."""

    log_dir: Path
    sip_port: int = 5060
    sipp_binary: str = field(default_factory=lambda: shutil.which("sipp") or "sipp")
    _count: itertools.count = field(default_factory=lambda: itertools.count(1))
    _started: list["SippProcess"] = field(default_factory=list)

    async def stop_all(self) -> None:
        """Stop every sipp this runner started (a test's clean-up: no phone outlives it)."""
        for process in self._started:
            await process.stop()

    def _prepare(self, name: str, scenario: str) -> tuple[Path, Path]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        folder = self.log_dir / f"{next(self._count):03d}-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        scenario_file = folder / "scenario.xml"
        scenario_file.write_text(scenario)
        return folder, scenario_file

    def _common_args(self, folder: Path, scenario_file: Path, local_port: int) -> list[str]:
        return [
            self.sipp_binary,
            "-sf", str(scenario_file),
            "-i", "127.0.0.1",
            "-p", str(local_port),
            "-mi", "127.0.0.1",
            "-mp", str(free_media_port()),
            "-nostdin",
            "-trace_msg", "-message_file", str(folder / "messages.log"),
            "-trace_err", "-error_file", str(folder / "errors.log"),
            "-trace_screen", "-screen_file", str(folder / "screen.log"),
        ]

    async def start_callers(
        self,
        name: str,
        steps: Sequence[Step],
        *,
        calls: Sequence[tuple[str, str]],
        rate: float = 1.0,
        concurrent: int | None = None,
        timeout_s: float = 120.0,
        from_user: str = "caller",
        rtp_to: int | None = None,
    ) -> "SippProcess":
        """Place ``calls`` (dialed number, caller number) following ``steps``, from the endpoint ``from_user``.

        ``rtp_to``: the SDP offers this loopback port instead of sipp's own media port, so
        the RTP Asterisk sends this caller reaches a test's socket (:class:`acd.lab.rtp_probe.RtpProbe`)."""
        folder, scenario_file = self._prepare(name, _media_to(caller_scenario(steps, from_user), rtp_to))
        injection = folder / "calls.csv"
        injection.write_text("SEQUENTIAL\n" + "".join(f"{caller};{dialed}\n" for dialed, caller in calls))
        # [service] is per call: sipp takes it from -s, so dialed numbers vary only per run.
        dialed_numbers = {dialed for dialed, _ in calls}
        if len(dialed_numbers) != 1:
            raise ValueError("one caller run dials one number; start several runs for several numbers")
        args = self._common_args(folder, scenario_file, free_udp_port()) + [
            "-inf", str(injection),
            "-s", dialed_numbers.pop(),
            "-m", str(len(calls)),
            "-r", str(rate),
            "-timeout", f"{int(timeout_s)}s", "-timeout_error",
            f"127.0.0.1:{self.sip_port}",
        ]
        if concurrent is not None:
            args += ["-l", str(concurrent)]
        return await self._launch(name, args, folder)

    async def _launch(self, name: str, args: list[str], folder: Path) -> "SippProcess":
        """Start sipp; if it dies at once because its media ports were taken between our check
        and its bind (another sipp of another lab took them: errno 98), start it again on
        fresh media ports, at most a few times.  Seen in CI: a phone missing for a whole test."""
        for attempt in range(BIND_RETRIES + 1):
            process = await SippProcess.start(name, args, folder)
            if attempt == BIND_RETRIES or not await process.died_binding(BIND_CHECK_S):
                break
            (folder / "errors.log").unlink(missing_ok=True)
            args = _with_media_port(args, free_media_port())
        self._started.append(process)
        return process

    async def start_agent(
        self,
        name: str,
        port: int,
        *,
        calls: int = 1,
        answer_after_s: float = 0.5,
        talk_s: float = 5.0,
        answer: bool = True,
        audio: bool | Path = False,
        answers_options: bool = False,
        cancel_ok: bool = False,
        timeout_s: float = 300.0,
        rtp_to: int | None = None,
    ) -> "SippProcess":
        """Start a sipp phone listening on ``port`` that handles ``calls`` calls.

        ``answers_options``: a qualified phone; every OPTIONS counts as a call for sipp, so
        such a phone runs until stopped (``stop()``), not for ``calls`` calls.  ``rtp_to``:
        as for :meth:`start_callers` (with the lab's ``rtp_symmetric``, only while this
        phone sends no audio of its own: Asterisk then answers to where the audio came from).
        """
        scenario = _media_to(agent_scenario(
            answer_after_s=answer_after_s, talk_s=talk_s, answer=answer, audio=audio, answers_options=answers_options, cancel_ok=cancel_ok
        ), rtp_to)
        folder, scenario_file = self._prepare(name, scenario)
        limit = 100000 if answers_options else calls
        args = self._common_args(folder, scenario_file, port) + ["-m", str(limit), "-timeout", f"{int(timeout_s)}s"]
        return await self._launch(name, args, folder)


@dataclass
class SippProcess:
    name: str
    process: asyncio.subprocess.Process
    log_dir: Path

    @classmethod
    async def start(cls, name: str, args: list[str], folder: Path) -> "SippProcess":
        (folder / "command.txt").write_text(" ".join(args) + "\n")
        stdout = open(folder / "stdout.log", "wb")
        try:
            process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=stdout, stderr=asyncio.subprocess.STDOUT, cwd=folder
            )
        finally:
            stdout.close()
        return cls(name, process, folder)

    async def died_binding(self, within_s: float) -> bool:
        """Whether sipp exited within ``within_s`` unable to bind a socket (errno 98)."""
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), within_s)
        except asyncio.TimeoutError:
            return False
        try:
            errors = (self.log_dir / "errors.log").read_text(errors="replace")
        except OSError:
            return False
        return "Unable to bind" in errors and "errno = 98" in errors

    async def wait(self, timeout_s: float = 300.0) -> SippResult:
        try:
            await asyncio.wait_for(self.process.wait(), timeout_s)
        except asyncio.TimeoutError:
            await self.stop()
        return self.result()

    async def stop(self) -> SippResult:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                # SIGKILL always ends it; still bounded, so a lost exit notification can never
                # stall a test run.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.process.wait(), 5)
        return self.result()

    def result(self) -> SippResult:
        screen = _read(self.log_dir / "screen.log")
        successful = failed = 0
        for label, value in _STAT_FIELD.findall(screen):
            if label == "Successful call":
                successful = int(value)
            else:
                failed = int(value)
        messages = _read(self.log_dir / "messages.log")
        remote_byes = len(re.findall(r"message received[^\n]*\n\s*\nBYE ", messages))
        return SippResult(
            name=self.name,
            returncode=self.process.returncode if self.process.returncode is not None else -1,
            successful=successful,
            failed=failed,
            log_dir=self.log_dir,
            remote_byes=remote_byes,
            messages=messages,
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
