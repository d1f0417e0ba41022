"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from painflow_shared.contracts import default_contracts_dir
from painflow_shared.events.limits import MAX_EVENT_BYTES


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class SharedSettings(BaseSettings):
    """Settings for one service process.

    Service-specific values take the service's prefix (``REFERRAL_DATABASE_URL``); the values
    a whole deployment shares (Kafka, OpenTelemetry) are read without a prefix.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

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
    kafka_security_protocol: str = Field(
        "PLAINTEXT", validation_alias=_env("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol")
    )
    kafka_sasl_mechanism: str | None = Field(
        None, validation_alias=_env("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism")
    )
    kafka_sasl_username: str | None = Field(
        None, validation_alias=_env("KAFKA_SASL_USERNAME", "kafka_sasl_username")
    )
    kafka_sasl_password: str | None = Field(
        None, validation_alias=_env("KAFKA_SASL_PASSWORD", "kafka_sasl_password")
    )
    kafka_ssl_cafile: str | None = Field(
        None, validation_alias=_env("KAFKA_SSL_CAFILE", "kafka_ssl_cafile")
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
    relay_poll_seconds: float = 0.05
    relay_batch_size: int = 200
    start_background_workers: bool = True

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
        if self.environment != "development" and self.kafka_sasl_password == "changeme":
            raise ValueError("refusing the default Kafka SASL password outside development")
        return self

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
        if self.kafka_sasl_mechanism:
            config["sasl_mechanism"] = self.kafka_sasl_mechanism
            config["sasl_plain_username"] = self.kafka_sasl_username
            config["sasl_plain_password"] = self.kafka_sasl_password
        if self.kafka_ssl_cafile:
            config["ssl_cafile"] = self.kafka_ssl_cafile
        return config
