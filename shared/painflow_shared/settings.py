"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from painflow_shared.contracts import default_contracts_dir
from painflow_shared.events.limits import MAX_EVENT_BYTES

DEVELOPMENT_ENVIRONMENTS = frozenset({"dev", "development"})
DEV_KAFKA_USER = "admin"  # the local broker's super user (deploy/kafka/kafka.sh)
_DEV = "painflow-dev-"


def dev_kafka_password(user: str) -> str:
    """The password deploy/kafka/kafka.sh gives a SCRAM user unless KAFKA_PASSWORD_<USER> is set;
    used only under PAINFLOW_ENV=development, refused anywhere else."""
    return f"{_DEV}{user}"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class SharedSettings(BaseSettings):
    """Settings for one service process.

    Service-specific values take the service's prefix (``REFERRAL_DATABASE_URL``); the values
    a whole deployment shares (Kafka, OpenTelemetry) are read without a prefix.
    """

    # hide_input_in_errors: a refused setting never echoes a password into the startup error
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    service_name: str = "painflow"
    environment: str = Field("development", validation_alias=_env("PAINFLOW_ENV", "environment"))
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = ""  # defaults to http://host:port/fhir
    database_url: str = ""  # defaults to a SQLite file under .run/
    run_migrations: bool = True

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    # The broker authenticates every client (SASL/SCRAM) and authorizes it by ACLs: each service
    # is its own principal (README, "Kafka principals"). Under PAINFLOW_ENV=development the
    # user defaults to the local broker's super user `admin` (deploy/kafka/kafka.sh); anywhere
    # else the username and a password (or a password file) are required.
    kafka_security_protocol: str = Field(
        "SASL_PLAINTEXT",
        validation_alias=_env("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
    )
    kafka_sasl_mechanism: str | None = Field(
        "SCRAM-SHA-512", validation_alias=_env("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism")
    )
    kafka_sasl_username: str | None = Field(
        None, validation_alias=_env("KAFKA_SASL_USERNAME", "kafka_sasl_username")
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, validation_alias=_env("KAFKA_SASL_PASSWORD", "kafka_sasl_password")
    )
    kafka_sasl_password_file: Path | None = Field(  # e.g. a mounted Kubernetes Secret
        None, validation_alias=_env("KAFKA_SASL_PASSWORD_FILE", "kafka_sasl_password_file")
    )
    kafka_ssl_cafile: str | None = Field(
        None, validation_alias=_env("KAFKA_SSL_CAFILE", "kafka_ssl_cafile")
    )
    # who may call: tokens from this issuer, for this audience (or the service's own base URL)
    auth_issuer: str = Field("", validation_alias=_env("PAINFLOW_AUTH_ISSUER", "auth_issuer"))
    auth_audience: str = Field(
        "painflow", validation_alias=_env("PAINFLOW_AUTH_AUDIENCE", "auth_audience")
    )
    # development and handler tests only: every caller may do everything (refused in production)
    auth_disabled: bool = Field(
        False, validation_alias=_env("PAINFLOW_AUTH_DISABLED", "auth_disabled")
    )
    # per client id, per process ("" switches it off): see auth/rate_limit.py
    rate_limit: str = Field(
        "100/second", validation_alias=_env("PAINFLOW_RATE_LIMIT", "rate_limit")
    )
    # the referral service's public FHIR base: every service names patients by its Patient ids
    referral_base_url: str = Field(
        "http://127.0.0.1:8001/fhir",
        validation_alias=_env("PAINFLOW_REFERRAL_BASE_URL", "referral_base_url"),
    )
    contracts_dir: Path | None = Field(
        None, validation_alias=_env("PAINFLOW_CONTRACTS_DIR", "contracts_dir")
    )
    topic_prefix: str = Field("", validation_alias=_env("PAINFLOW_TOPIC_PREFIX", "topic_prefix"))
    topic_partitions: int = Field(
        6, validation_alias=_env("PAINFLOW_TOPIC_PARTITIONS", "topic_partitions")
    )
    consumer_group: str = ""  # defaults to painflow-<service>
    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.2
    # a fetch waits for this many bytes or this long, whichever comes first: under load a few
    # events per fetch and per transaction instead of one (issue 12); idle, an event waits at
    # most the wait (kafka-python's defaults: 1 byte, 500 ms)
    consumer_fetch_min_bytes: int = Field(
        1, ge=1, validation_alias=_env("PAINFLOW_FETCH_MIN_BYTES", "consumer_fetch_min_bytes")
    )
    consumer_fetch_max_wait_ms: int = Field(
        500, ge=0, validation_alias=_env("PAINFLOW_FETCH_MAX_WAIT_MS", "consumer_fetch_max_wait_ms")
    )
    consumer_linger_ms: int = Field(
        0, ge=0, le=1000, validation_alias=_env("PAINFLOW_CONSUMER_LINGER_MS", "consumer_linger_ms")
    )
    relay_poll_seconds: float = 0.05
    relay_batch_size: int = 200
    start_background_workers: bool = True
    # the served process's garbage collector (serve.tune_gc): generation thresholds, "" keeps
    # Python's (700,10,10), which under load ran a collection every few hundred allocations
    gc_thresholds: str = Field(
        "50000,20,50", validation_alias=_env("PAINFLOW_GC_THRESHOLDS", "gc_thresholds")
    )

    max_body_bytes: int = 5 * 1024 * 1024
    # the largest event a request may cause (its serialized Bundle); a larger one is 413. At most
    # MAX_EVENT_BYTES, what the producer and the topics carry (painflow_shared/events/limits.py)
    max_event_bytes: int = Field(MAX_EVENT_BYTES, gt=0, le=MAX_EVENT_BYTES)
    max_bundle_entries: int = 1000  # a transaction or batch with more is 413, before parsing
    metrics_enabled: bool | None = Field(  # None: on, except in production
        None, validation_alias=_env("PAINFLOW_METRICS_ENABLED", "metrics_enabled")
    )
    log_level: str = Field("INFO", validation_alias=_env("PAINFLOW_LOG_LEVEL", "log_level"))
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint")
    )
    # Zipkin's span API (http://127.0.0.1:9411/api/v2/spans under `make run`/`make up`); used
    # only when no OTLP endpoint is set. OTEL_EXPORTER_ZIPKIN_ENDPOINT is OpenTelemetry's name.
    zipkin_endpoint: str | None = Field(
        None,
        validation_alias=_env(
            "PAINFLOW_ZIPKIN_ENDPOINT", "OTEL_EXPORTER_ZIPKIN_ENDPOINT", "zipkin_endpoint"
        ),
    )
    trace_console: bool = Field(  # used only when no OTLP or Zipkin endpoint is set
        True, validation_alias=_env("PAINFLOW_TRACE_CONSOLE", "trace_console")
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> SharedSettings:
        if not self.public_base_url:
            self.public_base_url = f"http://{self.host}:{self.port}/fhir"
        if not self.database_url:
            self.database_url = f"sqlite:///.run/{self.service_name}.db"
        if not self.consumer_group:
            self.consumer_group = f"painflow-{self.service_name}"
        if self.is_production and self.auth_disabled:
            raise ValueError("PAINFLOW_AUTH_DISABLED is refused when PAINFLOW_ENV=production")
        self._fill_kafka_credentials()
        return self

    def _fill_kafka_credentials(self) -> None:
        """The password file, else the dev defaults (development only), else refuse to start."""
        if self.kafka_sasl_password_file is not None:
            if self.kafka_sasl_password is not None:
                raise ValueError("set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both")
            text = self.kafka_sasl_password_file.read_text(encoding="utf-8")
            self.kafka_sasl_password = SecretStr(text.rstrip("\r\n"))
        if not self.kafka_security_protocol.startswith("SASL_"):
            if not self.is_development:
                raise ValueError(
                    "KAFKA_SECURITY_PROTOCOL must be SASL_SSL or SASL_PLAINTEXT outside "
                    "PAINFLOW_ENV=development: the broker authenticates every service"
                )
            return
        if self.is_development:
            user = self.kafka_sasl_username = self.kafka_sasl_username or DEV_KAFKA_USER
            self.kafka_sasl_password = self.kafka_sasl_password or SecretStr(
                dev_kafka_password(user)
            )
        password = self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
        if not self.kafka_sasl_username or not password:
            raise ValueError(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) are "
                "required outside PAINFLOW_ENV=development"
            )
        if not self.is_development and (password == "changeme" or password.startswith(_DEV)):
            raise ValueError("refusing a development Kafka password outside development")

    @property
    def is_development(self) -> bool:
        """``PAINFLOW_ENV=dev`` or ``development`` (the default): local defaults are allowed."""
        return self.environment in DEVELOPMENT_ENVIRONMENTS

    @property
    def is_production(self) -> bool:
        """``PAINFLOW_ENV=production``: no API docs, no /metrics unless enabled."""
        return self.environment == "production"

    @property
    def serves_metrics(self) -> bool:
        if self.metrics_enabled is None:
            return not self.is_production
        return self.metrics_enabled

    def contracts_path(self) -> Path:
        """contracts/ (asyncapi.yaml and schemas): PAINFLOW_CONTRACTS_DIR, else the source
        checkout's own folder; an installed wheel must be pointed at it."""
        path = self.contracts_dir or default_contracts_dir()
        if not (path / "asyncapi.yaml").is_file():
            raise ValueError(
                f"no asyncapi.yaml under {path}: set PAINFLOW_CONTRACTS_DIR to the contracts folder"
            )
        return path

    def local_bases(self) -> tuple[str, ...]:
        """FHIR bases whose absolute references mean the same as relative ones here."""
        return (self.public_base_url, self.referral_base_url)

    def topic(self, name: str) -> str:
        """The real topic name for a logical one (tests isolate themselves with a prefix)."""
        return f"{self.topic_prefix}{name}"

    def kafka_client_config(self) -> dict[str, object]:
        """Connection settings every kafka-python client of this service uses."""
        config: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL_"):
            config["sasl_mechanism"] = self.kafka_sasl_mechanism
            config["sasl_plain_username"] = self.kafka_sasl_username
            secret = self.kafka_sasl_password
            config["sasl_plain_password"] = secret.get_secret_value() if secret else None
        if self.kafka_ssl_cafile:
            config["ssl_cafile"] = self.kafka_ssl_cafile
        return config
