"""Settings plumbing shared by the edge and cloud deployables.

Each deployable has one settings class, built once in its entry point from a YAML
file plus environment variables (nested with ``__``; environment wins over the
file) and passed down. Unknown keys are errors, and every error names the key.
"""

from __future__ import annotations

import ssl
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from protocol.errors import ProtocolError
from protocol.topics import DEFAULT_PREFIX

_yaml_file: ContextVar[Path | None] = ContextVar("_yaml_file", default=None)


# How long a node keeps frames the cloud acknowledged, for resend requests: the node's
# spool.keep_acked_s and what the cloud's privacy page states (retention.node_spool_s).
DEFAULT_KEEP_ACKED_S = 3600.0


class ConfigError(ProtocolError):
    """Configuration that cannot be used; the message names the key and the fix."""


class Group(BaseModel):
    """A nested settings group: strict about unknown keys."""

    model_config = ConfigDict(extra="forbid")


class TlsSettings(Group):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = Field(False, description="skip hostname verification (testing only)")


class MqttSettings(Group):
    """How to reach the MQTT broker."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 1883
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    prefix: str = DEFAULT_PREFIX
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    client_id: str | None = None

    def configure_client(self, client: Any) -> None:
        """Give a paho-mqtt client these credentials and TLS options (one place for the
        edge publisher, the uploader and the API's booth link)."""
        if self.username:
            password = self.password.get_secret_value() if self.password else None
            client.username_pw_set(self.username, password)
        if self.tls is not None:
            tls = self.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            client.tls_insecure_set(tls.insecure)


class FileSettings(BaseSettings):
    """Base of a deployable's settings: YAML file + environment, ``extra="forbid"``."""

    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_file.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return (*sources, file_secret_settings)


S = TypeVar("S", bound=FileSettings)


def load_settings(cls: type[S], path: str | Path | None = None, **overrides: Any) -> S:
    """Build ``cls`` from ``path`` (YAML, optional) and the environment.

    Raises :class:`ConfigError` naming the offending key on any invalid value.
    """
    yaml_path = Path(path) if path is not None else None
    if yaml_path is not None:
        _check_yaml(yaml_path)
    token = _yaml_file.set(yaml_path)
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, cls, yaml_path)) from None
    finally:
        _yaml_file.reset(token)


def _check_yaml(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")


def _describe(exc: ValidationError, cls: type[BaseSettings], path: Path | None) -> str:
    prefix = cls.model_config.get("env_prefix", "")
    lines = [f"invalid {cls.__name__} ({'from ' + str(path) if path else 'no file'}):"]
    for err in exc.errors():
        if not err["loc"]:  # a check across keys: its message names them
            lines.append(f"  {err['msg']}")
            continue
        key = ".".join(str(p) for p in err["loc"])
        env = prefix + "__".join(str(p) for p in err["loc"]).upper()
        lines.append(f"  {key}: {err['msg']} (set it in the file, or as {env})")
    return "\n".join(lines)
