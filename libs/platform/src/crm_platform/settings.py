"""Configuration from the environment only (prefix ``CRM_``); defaults fit `make up` on one machine."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import MutableMapping
from pathlib import Path
from typing import Literal

from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# ``<service>.<purpose>``: lower-case words joined by dashes, parts by dots.
GROUP_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+")


def _env(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", validate_by_name=True)


def state_dir() -> Path:
    """Local state: CRM_STATE_DIR, else `.local/` of the checkout (the folder holding uv.lock)."""
    if explicit := os.environ.get("CRM_STATE_DIR"):
        return Path(explicit)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "uv.lock").exists():
            return folder / ".local"
    return here / ".local"


def local_secret(name: str) -> bytes:
    """A secret the processes of one machine share (`make up`), made once under the state
    folder (``<service>/<name>``, mode 0600); production sets its secret in the environment."""
    path = state_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    secret = secrets.token_hex(32).encode()
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
    return secret


# Secrets come from files (Kubernetes Secrets and Docker secrets mounted read-only), never from
# committed configuration: ``CRM_<NAME>_FILE`` holds the value of ``CRM_<NAME>`` for every name
# ending in PASSWORD or SECRET (the database's and SMTP passwords, the signing secrets).
SECRET_FILE = re.compile(r"CRM_[A-Z0-9_]*(?:PASSWORD|SECRET)_FILE")
# Settings that read their file themselves, at every use (a rotated Secret is picked up).
READ_AS_FILES = frozenset({"CRM_KAFKA_SASL_PASSWORD_FILE"})


def load_secret_files(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Fill each ``CRM_<NAME>`` from the file ``CRM_<NAME>_FILE`` names (trailing newline
    dropped), at process start, before any settings are read. Setting both is refused: which
    one wins would be a guess. Returns the variables filled."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    filled = []
    for name, path in list(env.items()):
        if not SECRET_FILE.fullmatch(name) or name in READ_AS_FILES:
            continue
        target = name.removesuffix("_FILE")
        if target in env:
            raise ValueError(f"set one of {target} and {name}, not both")
        env[target] = Path(path).read_text().rstrip("\r\n")
        filled.append(target)
    return filled


# The local development issuer (crm_platform.devtoken), never trusted in production.
DEV_ISSUER = "https://dev-issuer.crm.local"


class PostgresSettings(BaseSettings):
    model_config = _env("CRM_POSTGRES_")

    host: str = "127.0.0.1"
    port: int = 15432
    user: str = "crm"
    password: str = "crm"
    database: str | None = None  # overrides a service's own database name (tests, tenants)
    pool_size: int = 5

    def dsn(self, database: str) -> str:
        # make_conninfo quotes values, so a password with spaces or quotes stays one value.
        return make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=database
        )


class KafkaSettings(BaseSettings):
    model_config = _env("CRM_KAFKA_")

    bootstrap_servers: str = "127.0.0.1:19092"
    group_prefix: str = ""  # isolates consumer groups of parallel environments sharing a cluster
    # Replicas of the topics the code creates when they are missing (a cluster normally has them
    # declared already, e.g. by Strimzi KafkaTopics): 3 in production, 1 on a one-broker machine.
    topic_replication: int = Field(default=1, ge=1)

    # How every client connects (crm_platform.kafka.security): PLAINTEXT on one machine; in
    # production SASL_SSL with SCRAM-SHA-512, the password mounted as a file (a Kubernetes Secret).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_ca_file: Path | None = None  # the CA the brokers' certificates are checked with

    @model_validator(mode="after")
    def _credentials(self) -> KafkaSettings:
        """A SASL protocol needs a user and exactly one password source: refused at start-up."""
        if not self.security_protocol.startswith("SASL_"):
            return self
        if not self.sasl_username:
            raise ValueError(f"CRM_KAFKA_SASL_USERNAME is required with {self.security_protocol}")
        if (self.sasl_password is None) == (self.sasl_password_file is None):
            raise ValueError("set one of CRM_KAFKA_SASL_PASSWORD and CRM_KAFKA_SASL_PASSWORD_FILE")
        return self

    def password(self) -> str:
        """The SASL password, read from its file at every call (a rotated Secret is picked up)."""
        if self.sasl_password_file is not None:
            return self.sasl_password_file.read_text().strip()
        return self.sasl_password.get_secret_value() if self.sasl_password else ""

    def group(self, name: str) -> str:
        """The consumer group of ``name``, which reads ``<service>.<purpose>`` (lower case, dashes
        inside words): one naming for every group, its dead-letter topic and its lag metrics."""
        if not GROUP_NAME.fullmatch(name):
            raise ValueError(f"consumer group {name!r} is not <service>.<purpose>")
        return f"{self.group_prefix}{name}"


class MongoSettings(BaseSettings):
    model_config = _env("CRM_MONGODB_")

    uri: str = "mongodb://127.0.0.1:17017/"
    database: str = "crm_analytics"


class AuthSettings(BaseSettings):
    """Bearer tokens from an OpenID Connect issuer (``crm_platform.web.auth``).

    Keys: the issuer's JWKS, found by discovery or named by ``jwks_url``; outside production also
    a PEM public key, else the local development issuer's (``crm-dev-token``). In production
    (``CRM_ENV=production``) only an issuer's JWKS is accepted: the services refuse to start
    otherwise.
    """

    model_config = _env("CRM_AUTH_")

    environment: str = Field("development", validation_alias="CRM_ENV")
    issuer: str = DEV_ISSUER
    audience: str = "crm"
    jwks_url: str | None = None  # default: the jwks_uri of the issuer's discovery document
    public_key_file: Path | None = None
    algorithms: list[str] = ["ES256", "RS256"]
    leeway_seconds: int = 30  # tolerated clock skew for exp, nbf and iat
    # The longest a token may live (exp - iat), in every environment: a stolen token is worth
    # hours at most, whatever lifetime its issuer granted.
    max_lifetime_seconds: int = Field(default=12 * 3600, ge=60)
    # Where the identity provider puts the user's roles: a claim name, or a dotted path into
    # nested claims (Keycloak: ``realm_access.roles``; Entra ID: ``roles``; Okta, Dex: ``groups``).
    roles_claim: str = "roles"
    dev_private_key_file: Path | None = None  # default: <state dir>/dev-issuer/private.pem

    @property
    def production(self) -> bool:
        return self.environment.lower() == "production"


class HttpSettings(BaseSettings):
    model_config = _env("CRM_HTTP_")

    host: str = "127.0.0.1"
    port: int = 8000


class TelemetrySettings(BaseSettings):
    model_config = _env("CRM_")

    # The collector's base URL (OTLP/HTTP); without it no span leaves the process.
    otlp_endpoint: str | None = Field(None, validation_alias="CRM_OTEL_EXPORTER_OTLP_ENDPOINT")
    console: bool = Field(False, validation_alias="CRM_OTEL_CONSOLE")  # spans on stdout, to debug
    service_version: str | None = None  # default: the version of the service's package
    environment: str = Field("development", validation_alias="CRM_ENV")
    log_level: str = "INFO"


class MetricsSettings(BaseSettings):
    """Where a relay or a worker serves /metrics (an api serves them on its HTTP port)."""

    model_config = _env("CRM_METRICS_")

    host: str = "127.0.0.1"  # 0.0.0.0 in containers, for Prometheus to reach it
    port: int = 9464  # 0: no metrics server


class RequestLimitSettings(BaseSettings):
    """What one request may cost before any route, dependency or token check runs."""

    model_config = _env("CRM_HTTP_")

    max_body_bytes: int = Field(default=1024 * 1024, ge=1)  # JSON, forms and other small bodies
    max_json_depth: int = Field(default=32, ge=1)
    max_string_chars: int = Field(default=100_000, ge=1)  # models keep their own tighter limits
    # Bodies routes stream with limits of their own (contacts' CSV import); never buffered here.
    streamed_media_types: list[str] = ["text/csv"]


class HealthSettings(BaseSettings):
    """When a process stops being ready or alive (``crm_platform.liveness``)."""

    model_config = _env("CRM_HEALTH_")

    # Events a projection or a consumer may be behind and still be ready.
    max_lag: int = Field(default=10_000, ge=0)
    # How long a worker with a dead part keeps answering (its 503 seen, its logs shipped)
    # before it exits for its supervisor to restart it.
    exit_grace_seconds: float = Field(default=5.0, ge=0)
