"""Engine settings: one pydantic model loaded from ``acd.yaml``.

Secrets (the AMI secret, the API token, the MQTT password) should come from the
environment, never from a file in version control: any field can be overridden by
``ACD_<SECTION>_<FIELD>`` (``ACD_AMI_SECRET``, ``ACD_API_TOKEN``, ``ACD_MQTT_PASSWORD``).
Secret fields are ``SecretStr`` so they never appear in ``repr``, logs or error messages.

A bad file is reported once per problem, naming file, line, field, what was found and
what was expected; the CLI exits with code 2.

Long on purpose: every section of ``acd.yaml`` (with its limits and descriptions) sits in
one file beside the loader, so the whole settings surface reads in one place and the
environment overrides, secret masking and cross-section checks (several nodes) see it all.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator

from acd.asterisk.agi_key import KEY_PATTERN
from acd.yamlpos import DEFAULT_LIMITS, PositionedDocument, Problem, YamlLimits, load_yaml_file, pydantic_problems

ENV_PREFIX = "ACD_"
DEFAULT_SETTINGS_FILE = "acd.yaml"
HOUR = 3600.0
log = logging.getLogger(__name__)


class _Section(BaseModel):
    # No inf/nan anywhere: an infinite timeout silently switches its guard off.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        # Settings end up in AMI headers and channel variables (the AMI user and secret,
        # callbacks.customer_dial, contexts): a line break there would add headers or
        # whole actions of its own.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and ("\n" in text or "\r" in text or "\0" in text):
            raise ValueError("one line (a line break or NUL would end an AMI header and start another)")
        return value


def _loopback_default_warning(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        raise ValueError("an IP address such as 127.0.0.1") from exc
    return value


class AgiSettings(_Section):
    """Our FastAGI listener (Asterisk connects to it with ``AGI(agi://host:port/route)``)."""

    host: str = "127.0.0.1"
    port: int = Field(4573, ge=1, le=65535)
    read_timeout_s: float = Field(30.0, gt=0, le=HOUR, description="a peer silent this long is dropped")
    header_timeout_s: float = Field(5.0, gt=0, le=60, description="time allowed for the agi_* header block")
    max_header_bytes: int = Field(16384, ge=512, le=1024 * 1024)
    max_connections: int = Field(1000, ge=1, le=100_000)
    key: SecretStr | None = Field(
        None, description="the key every FastAGI session must show (ACD_AGI_KEY; given to Asterisk over AMI); none: generated once, kept in agi-key beside the metrics database"
    )
    asterisk_uid: int | None = Field(
        None, ge=0, le=2**32 - 2,
        description="Asterisk's user id when it runs on this machine: a session whose socket that user owns (the kernel says, sock_diag) is not asked for the key, one AGI round trip less per call; none: every session is asked",
    )

    _check_host = field_validator("host")(_loopback_default_warning)

    @field_validator("key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(KEY_PATTERN, value.get_secret_value()):
            raise ValueError("16-256 letters, digits, '_' or '-' (it travels unencoded in the AGI address)")
        return value


class AmiSettings(_Section):
    """The Asterisk Manager Interface connection."""

    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "acd"
    secret: SecretStr | None = None
    ping_interval_s: float = Field(5.0, gt=0, le=HOUR)
    ping_timeout_s: float = Field(3.0, gt=0, le=HOUR)
    reconnect_initial_s: float = Field(0.5, gt=0, le=HOUR)
    reconnect_max_s: float = Field(30.0, gt=0, le=HOUR)
    action_timeout_s: float = Field(10.0, gt=0, le=HOUR)

    _check_host = field_validator("host")(_loopback_default_warning)


class NodeSettings(_Section):
    """One more Asterisk server under this engine (``nodes:``; acd.asterisk.nodes).

    The ``ami:`` and ``agi:`` sections are the first node (named by ``node``); each entry
    here adds an AMI connection and a FastAGI listener.  Its AMI secret comes from the
    environment: ``ACD_NODE_<NAME>_AMI_SECRET`` (name upper-cased, ``-`` as ``_``)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="the node's name, in events (data.node) and in its trunk (acd-node-<name>)")
    ami: AmiSettings = AmiSettings()
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(ge=1, le=65535, description="the FastAGI listener this node's dialplan reaches (its ACD_AGI global)")

    _check_host = field_validator("agi_host")(_loopback_default_warning)


def node_secret_variable(name: str) -> str:
    """The environment variable holding a node's AMI secret."""
    return f"ACD_NODE_{name.upper().replace('-', '_')}_AMI_SECRET"


class IvrSettings(_Section):
    flows_dir: Path = Path("ivr_flows")
    reload_interval_s: float = Field(0.5, gt=0, le=2.0)
    sounds_dir: Path | None = Field(None, description="prompts are checked here (default: $ACD_SOUNDS_DIR, else the lab's), as by acd ivr validate")


class RoutingSettings(_Section):
    config: Path = Path("deploy/routing.yaml")
    auto_login: list[str] = Field(default_factory=list, description="agents logged in when the engine starts (lab, demo)")
    reload_interval_s: float = Field(2.0, gt=0, le=60, description="how often the routing file is checked for a saved change")
    hold_context: str = "acd-hold"
    agent_context: str = "acd-agent"
    timezone: str = "America/Santiago"
    holidays: Path | None = Field(
        None, description="holiday calendar file for callback hours (the IVR's, e.g. ivr_flows/calendars/feriados-cl.yaml); none: Chile's public holidays"
    )


class MetricsSettings(_Section):
    database: Path = Path("var/acd.sqlite")
    batch_interval_s: float = Field(0.2, gt=0, le=1.0)
    heartbeat_s: float = Field(60.0, gt=0, le=HOUR, description="engine.heartbeat period: bounds how far a crash's downtime can be overstated")
    stats_publish_s: float = Field(1.0, gt=0, le=HOUR, description="how often live queue figures are published (MQTT retained stats)")


class StoreSettings(_Section):
    """Where events, report cells and incidents live (``acd.metrics.store_url``), and with a
    PostgreSQL URL the accounts, audit log, callbacks and grades too (``acd.metrics.store_sync``).

    ``url`` empty: the SQLite file ``metrics.database`` (and each other part its own file).  A URL is a secret (it may hold
    the database password): give it in ``ACD_STORE_URL``, or the password alone in
    ``ACD_STORE_PASSWORD`` (or libpq's ``PGPASSWORD``/``~/.pgpass``); it is shown masked.
    """

    url: SecretStr | None = Field(
        None, description="sqlite:///path/acd.sqlite or postgresql://user@host:5432/acd (ACD_STORE_URL; PostgreSQL holds accounts, callbacks and grades too); none: metrics.database"
    )
    password: SecretStr | None = Field(None, description="the PostgreSQL password when the URL has none (ACD_STORE_PASSWORD)")


class HaSettings(_Section):
    """Hot standby (``acd.ha``): two ``acd run`` share the PostgreSQL store; the lease holder leads.

    Needs a ``postgresql://`` store URL.  The standby takes over within about ``renew_s`` of
    the leader's death, or ``lease_s`` after a leader that is alive but stuck stopped renewing.
    """

    enabled: bool = False
    node: str = Field("", description="this engine's name in the lease (logs, engine.takeover); '' = the host name", pattern=r"^[A-Za-z0-9_.:-]{0,64}$")
    lease: str = Field("acd", description="the lease's name: engines sharing it are one hot-standby pair", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    lease_s: float = Field(5.0, ge=1, le=300, description="a leader that has not renewed this long is evicted (and stops acting on its own)")
    renew_s: float = Field(1.0, ge=0.1, le=100, description="how often the leader renews and the standby looks (at most lease_s / 3)")

    @field_validator("renew_s")
    @classmethod
    def _renew_fits(cls, value: float, info: ValidationInfo) -> float:
        lease_s = info.data.get("lease_s")
        if lease_s is not None and value * 3 > lease_s:
            raise ValueError(f"at most a third of lease_s ({lease_s:g}), so a late renewal does not lose the lease")
        return value


class RecordingSettings(_Section):
    """Call recording: every agent connection is recorded with MixMonitor, named by call id.

    ``asterisk_dir`` is the folder as Asterisk sees it (the dialplan writes there); the
    engine reads and expires the same files at ``local_dir``.  They differ when Asterisk
    runs in a chroot or a container.
    """

    enabled: bool = True
    asterisk_dir: str = "/var/spool/asterisk/acd-recordings"
    local_dir: Path = Path("var/recordings")
    retention_days: int | None = Field(
        None, ge=1, le=36_500,
        description="days a recording is kept; none: until the contract ends (then acd recordings export and erase)",
    )
    purge_interval_s: float = Field(3600.0, gt=0, le=24 * HOUR)
    codec: Literal["opus", "wav"] = Field("opus", description="stored after the call: opus (opusenc, about 1/8 the size) or the WAV as recorded")


_CALLER_ID = re.compile(r"([A-Za-z0-9 .'áéíóúñÁÉÍÓÚÑ-]*<\+?[0-9]{3,20}>|\+?[0-9]{3,20})")


class CallbackSettings(_Section):
    """Where callback requests are kept and how the customer is dialled.

    Whether the agent or the customer is called first is a queue's choice
    (``waiting.callback_mode`` in ``routing.yaml``), next to its other callback rules.
    """

    database: Path = Path("var/callbacks.sqlite")
    customer_dial: str = Field("PJSIP/{number}@customers", description="Asterisk dial string; {number} is the customer's number")
    customer_ring_s: float = Field(30.0, gt=0, le=600)
    customer_greeting: str = Field(
        "followme/pls-hold-while-try",
        description="customer-first: sound played to the customer before the agent is rung ('' = none)",
        pattern=r"^[A-Za-z0-9_/.&-]*$",
    )
    caller_id: str = Field(
        "",
        description=(
            "caller ID the customer sees when called back, e.g. 'Mesa de Ayuda <6003000000>' "
            "(the help line's own number, so they recognise it); '' = the trunk's default"
        ),
    )

    @field_validator("caller_id")
    @classmethod
    def _caller_id_asterisk_reads_as_meant(cls, value: str) -> str:
        # Goes into Originate and Set(CALLERID(all)=...): a comma or a stray bracket would
        # be read as another argument or an empty number.
        if value and not _CALLER_ID.fullmatch(value):
            raise ValueError("'Name <number>' or a number (3-20 digits, optional +; name: letters, digits, spaces, . ' -), e.g. 'Mesa de Ayuda <6003000000>'")
        return value


class ContinuitySettings(_Section):
    """What Asterisk does with callers while the engine is away (``acd.features.engine_away``)."""

    hold_callers_s: float = Field(120.0, ge=0, le=HOUR, description="how long a caller is held (music) while the engine is retried")
    retry_engine_s: float = Field(5.0, ge=1, le=300, description="how often the held caller's dialplan tries the engine again")
    fallback_queue: str = Field(
        "acd-fallback",
        description="app_queue queue (queues.conf) serving callers past hold_callers_s, kept with the ACD's agents; '' = 'try again later'",
        pattern=r"^[A-Za-z0-9_-]{0,64}$",
    )
    away_message: str = Field(
        "followme/pls-hold-while-try", description="sound played once when the engine is away ('' = none)", pattern=r"^[A-Za-z0-9_/.&-]{0,200}$"
    )
    keep_sign_ins_s: float = Field(
        43_200.0, ge=0, le=7 * 86_400,
        description="after a restart, agents logged in (or paused) at most this long ago are logged in (paused) again, from the event log; 0 = all start logged out",
    )
    cel_database: Path | None = Field(
        None,
        description="Asterisk's CEL SQLite file (cel_sqlite3_custom), read after a restart to close calls that ended meanwhile; none: they are closed as of the restart",
    )


class SlaSettings(_Section):
    """The contract ``acd sla`` measures against, so nobody has to pass it on each run."""

    contract: Path | None = Field(
        None, description="contract file (YAML: start, tiers, business_hours, holidays); none: the tender's defaults"
    )


class QualitySettings(_Section):
    """Quality evaluation (``acd.features.quality``): the forms QA grades calls with, the grades, the bonus."""

    forms_dir: Path = Field(Path("deploy/quality"), description="evaluation forms, one YAML file each (acd quality check)")
    database: Path = Field(Path("var/quality.sqlite"), description="submitted grades (append-only, owner-only)")
    bonus_targets: list[float] = Field(
        [75, 80, 85, 90, 95], min_length=1, max_length=120,
        description="quality bonus: the month's mean score needed, percent, by contract month (the last holds after)",
    )


class MqttSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = "acd"
    buffer_limit: int = Field(10000, ge=1, le=10_000_000)

    def publisher_options(self, site: str) -> dict[str, Any]:
        """Keyword arguments for :class:`acd.metrics.mqtt.MqttPublisher` (the core never reads settings)."""
        return {
            "host": self.host,
            "port": self.port,
            "site": site,
            "topic_prefix": self.topic_prefix,
            "username": self.username,
            "password": self.password.get_secret_value() if self.password else None,
            "buffer_limit": self.buffer_limit,
        }


class ApiSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8573, ge=1, le=65535)
    token: SecretStr | None = None
    header_timeout_s: float = Field(5.0, gt=0, le=60, description="a request must arrive whole this soon, else its connection is closed")
    max_connections: int = Field(512, ge=1, le=10000, description="over this, the oldest connection without a request in progress is closed")

    _check_host = field_validator("host")(_loopback_default_warning)


class WebSettings(_Section):
    """The web console (``acd web``): its own process, its own account store.

    It reads live state from the engine's API (``engine_url``, ``engine_token``), so the
    console and its reports stay up while the engine restarts.  Expose it only behind a
    TLS reverse proxy, with ``secure_cookies: true`` (README, "Web console").
    """

    host: str = "127.0.0.1"
    port: int = Field(8574, ge=1, le=65535)
    accounts_database: Path = Field(Path("var/accounts.sqlite"), description="accounts, tokens, sessions and the audit log (owner-only)")
    session_idle_s: float = Field(900.0, ge=1, le=24 * HOUR, description="a session unused this long must log in again")
    session_max_s: float = Field(12 * HOUR, ge=60, le=7 * 24 * HOUR, description="a session ends this long after login, used or not")
    secure_cookies: bool = Field(False, description="cookies only over HTTPS (set behind a TLS proxy)")
    lockout_failures: int = Field(5, ge=1, le=1000, description="failed logins in a row that lock an account")
    lockout_s: float = Field(900.0, ge=1, le=7 * 24 * HOUR, description="how long an account or address stays locked")
    address_failures: int = Field(20, ge=1, le=100_000, description="failed logins from one address within lockout_s that block it")
    language: Literal["es", "en"] = "es"
    engine_url: str = Field("", description="the engine's API, e.g. http://127.0.0.1:8573; '' = from api.host and api.port")
    engine_token: SecretStr | None = Field(None, description="token the console shows the engine (ACD_WEB_ENGINE_TOKEN); none: api.token")
    heartbeat_s: float = Field(
        60.0, ge=0, le=HOUR, description="console.heartbeat period in the metrics store: acd sla's report availability (0: none)"
    )

    _check_host = field_validator("host")(_loopback_default_warning)


class FileSettings(_Section):
    private: bool = Field(True, description="personal data on disk owner-only (files 0600, folders 0700, umask 077); false: the umask decides")


class LimitsSettings(_Section):
    """Bounds on the YAML files the engine reads: flows, holiday calendars, routing, SLA contract.

    A flow saved into the folder is loaded by the running engine, so an alias bomb or a
    huge file must be refused in bounded time and memory.  The settings file itself is
    read with the defaults (it is what would set them).
    """

    yaml_max_bytes: int = Field(DEFAULT_LIMITS.max_bytes, ge=1024, le=64 * 1024 * 1024)
    yaml_max_depth: int = Field(DEFAULT_LIMITS.max_depth, ge=8, le=100)
    yaml_max_aliases: int = Field(DEFAULT_LIMITS.max_aliases, ge=0, le=100_000)
    yaml_max_nodes: int = Field(DEFAULT_LIMITS.max_nodes, ge=1000, le=10_000_000, description="values once aliases are expanded")

    def yaml(self) -> YamlLimits:
        return YamlLimits(self.yaml_max_bytes, self.yaml_max_depth, self.yaml_max_aliases, self.yaml_max_nodes)


class MemorySettings(_Section):
    """Memory housekeeping (:mod:`acd.housekeeping`): glibc's free pages back to the system, a memory line in the log."""

    trim_every_s: float = Field(60.0, ge=0, le=HOUR, description="seconds between malloc_trim(0) calls; 0: never")
    report_every_s: float = Field(3600.0, ge=0, le=24 * HOUR, description="seconds between memory lines in the log; 0: never")


class RuntimeSettings(_Section):
    """How the engine's process runs (:mod:`acd.event_loop`)."""

    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", description="uvloop (libuv, in C: ~13 % less engine CPU per call, measured) or Python's own asyncio loop"
    )


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class Settings(_Section):
    """Everything ``acd run`` needs; every field has a safe loopback default."""

    site: str = Field("default", pattern=r"^[A-Za-z0-9_-]+$")
    node: str = Field("main", pattern=r"^[A-Za-z0-9_-]{1,40}$", description="the name of the Asterisk server of ami:/agi: (several servers: nodes)")
    nodes: list[NodeSettings] = Field(default_factory=list, description="more Asterisk servers under this engine, each its own AMI and FastAGI")
    agi: AgiSettings = AgiSettings()
    ami: AmiSettings = AmiSettings()
    ivr: IvrSettings = IvrSettings()
    routing: RoutingSettings = RoutingSettings()
    metrics: MetricsSettings = MetricsSettings()
    store: StoreSettings = StoreSettings()
    ha: HaSettings = HaSettings()
    recording: RecordingSettings = RecordingSettings()
    callbacks: CallbackSettings = CallbackSettings()
    continuity: ContinuitySettings = ContinuitySettings()
    sla: SlaSettings = SlaSettings()
    quality: QualitySettings = QualitySettings()
    mqtt: MqttSettings = MqttSettings()
    api: ApiSettings = ApiSettings()
    web: WebSettings = WebSettings()
    log: LogSettings = LogSettings()
    files: FileSettings = FileSettings()
    limits: LimitsSettings = LimitsSettings()
    memory: MemorySettings = MemorySettings()
    runtime: RuntimeSettings = RuntimeSettings()
    source: str = Field("(defaults)", exclude=True, description="where the settings came from")

    @field_validator("nodes")
    @classmethod
    def _distinct_nodes(cls, nodes: list[NodeSettings]) -> list[NodeSettings]:
        seen: set[str] = set()
        for node in nodes:
            if node.name.lower() in seen:
                raise ValueError(f"node {node.name!r} is listed twice")
            seen.add(node.name.lower())
        return nodes

    @model_validator(mode="after")
    def _nodes_apart(self) -> "Settings":
        if any(node.name.lower() == self.node.lower() for node in self.nodes):
            raise ValueError(f"nodes: {self.node!r} is the first node's name (node:); give each node its own")
        ports = [(self.agi.host, self.agi.port)] + [(node.agi_host, node.agi_port) for node in self.nodes]
        if len(set(ports)) != len(ports):
            raise ValueError("nodes: each node needs its own FastAGI address (agi.port, nodes[].agi_port)")
        return self

    def resolve(self, path: Path) -> Path:
        """Paths in the settings file are relative to the file's folder; ``~`` is the home folder."""
        path = path.expanduser()
        if path.is_absolute() or self.source == "(defaults)":
            return path
        return Path(self.source).resolve().parent / path


class SettingsError(Exception):
    """Settings could not be loaded; ``problems`` says every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], str]]:
    """Collect ``ACD_<SECTION>_<FIELD>`` variables that name a real settings field."""
    overrides: dict[str, dict[str, str]] = {}
    origins: dict[tuple[str, str], str] = {}
    for section_name, field_name in _setting_fields():
        variable = f"{ENV_PREFIX}{section_name.upper()}_{field_name.upper()}"
        if variable in environ:
            overrides.setdefault(section_name, {})[field_name] = environ[variable]
            origins[(section_name, field_name)] = variable
    return overrides, origins


#: ``ACD_*`` variables that are not settings: the lab, the tests, tools the lab starts.
_OTHER_VARIABLES = frozenset(
    {"ACD_SOUNDS_DIR", "ACD_MOSQUITTO", "ACD_SIPP_PCAP_DIR", "ACD_AMI_USER", "ACD_PRIVACY_KEY", "ACD_USER_PASSWORD", "ACD_REPO"}
)  # ACD_PRIVACY_KEY: acd.privacy; ACD_USER_PASSWORD: acd user; ACD_REPO: acd.checkout
_OTHER_PREFIXES = ("ACD_LAB_", "ACD_TEST_", "ACD_DOCKERD_", "ACD_DEMO_", "ACD_NODE_")  # ACD_DOCKERD_*: deploy/asterisk/private-dockerd.sh; ACD_DEMO_*: make demo


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``ACD_*`` variable that sets nothing (a typo: the secret silently unset).

    Names only the variable and the closest real one, never a value.
    """
    known = [f"{ENV_PREFIX}{section.upper()}_{name.upper()}" for section, name in _setting_fields()]
    warnings = []
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX) or variable in known or variable in _OTHER_VARIABLES or variable.startswith(_OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(variable, known, n=1, cutoff=0.75)
        hint = f" (did you mean ${close[0]}?)" if close else ""
        warnings.append(f"${variable}: unknown setting, ignored{hint}; settings variables are ACD_<SECTION>_<FIELD>")
    return warnings


def _setting_fields() -> list[tuple[str, str]]:
    fields = []
    for section_name, section_field in Settings.model_fields.items():
        section_type = section_field.annotation
        if isinstance(section_type, type) and issubclass(section_type, _Section):
            fields += [(section_name, field_name) for field_name in section_type.model_fields]
    return fields


def _merge(data: dict[str, Any], overrides: dict[str, dict[str, str]]) -> dict[str, Any]:
    merged = dict(data)
    for section, values in overrides.items():
        current = merged.get(section)
        merged[section] = {**(current if isinstance(current, dict) else {}), **values}
    return merged


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (default ``acd.yaml`` if present) plus the environment.

    Raises ``SettingsError`` listing every problem; never exposes a secret's value.  An
    ``ACD_*`` variable that sets nothing is logged as a warning (see ``unknown_variables``).
    """
    environ = os.environ if environ is None else environ
    for warning in unknown_variables(environ):
        log.warning("%s", warning)
    explicit = path is not None
    file = Path(path) if path is not None else Path(DEFAULT_SETTINGS_FILE)
    data: dict[str, Any] = {}
    doc = PositionedDocument(file=str(file), data={})
    if explicit or file.exists():
        loaded, problems = load_yaml_file(file)
        if problems:
            raise SettingsError(problems)
        assert loaded is not None
        doc = loaded
        if doc.data is None:
            doc.data = {}
        if not isinstance(doc.data, dict):
            raise SettingsError([doc.problem((), "settings file must be a mapping of sections (agi:, ami:, ...)")])
        data = doc.data
    overrides, origins = _env_overrides(environ)
    merged = _merge(data, overrides)
    _node_secrets(merged, environ)
    merged["source"] = str(file) if (explicit or file.exists()) else "(defaults)"
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = pydantic_problems(doc, exc)
        fixed: list[Problem] = []
        for problem, item in zip(problems, exc.errors(include_url=False)):
            loc = item["loc"]
            origin = origins.get((str(loc[0]), str(loc[1]))) if len(loc) >= 2 else None
            if origin is not None:
                # An environment override is wrong: name the variable, not a file line.
                message = problem.message
                if _is_secret_field(loc) and "found" in message:
                    expected = message.partition(", expected ")[2]  # what was wanted, without the value
                    message = message.split(": found", 1)[0] + ": invalid value (hidden)" + (f", expected {expected}" if expected else "")
                fixed.append(Problem(f"${origin}", 0, 0, message))
            else:
                fixed.append(problem)
        raise SettingsError(fixed) from None


def _node_secrets(merged: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Each extra node's AMI secret from ``ACD_NODE_<NAME>_AMI_SECRET`` (never from the file)."""
    nodes = merged.get("nodes")
    nodes = nodes if isinstance(nodes, list) else []
    expected = {node_secret_variable(node["name"]) for node in nodes if isinstance(node, dict) and isinstance(node.get("name"), str)}
    for variable in sorted(v for v in environ if v.startswith("ACD_NODE_") and v not in expected):
        log.warning("$%s: no node of that name in nodes: (expected one of: %s); ignored", variable, ", ".join(sorted(expected)) or "none")
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            continue
        secret = environ.get(node_secret_variable(node["name"]))
        ami = node.get("ami")
        if secret is not None and (ami is None or isinstance(ami, dict)):
            node["ami"] = {**(ami or {}), "secret": secret}


def _is_secret_field(loc: tuple[Any, ...]) -> bool:
    section = Settings.model_fields.get(str(loc[0]))
    if section is None or not isinstance(section.annotation, type):
        return False
    field = section.annotation.model_fields.get(str(loc[1]))  # type: ignore[union-attr]
    return field is not None and "SecretStr" in str(field.annotation)


def format_settings_problem(problem: Problem) -> str:
    """Environment problems print as ``$ACD_X: message``; file problems as ``FILE:LINE:COL: message``."""
    if problem.line == 0:
        return f"{problem.file}: {problem.message}"
    return str(problem)
