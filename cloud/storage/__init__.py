"""Object stores behind :class:`~cloud.storage.base.Storage`, chosen by ``storage.type``.

Implementations are imported only when chosen (boto3 is heavy and optional locally).
"""

from __future__ import annotations

from cloud.settings import LocalStorage as LocalStorageSettings
from cloud.settings import S3Storage as S3StorageSettings
from cloud.settings import StorageSettings
from cloud.storage.base import (
    ObjectNotFoundError,
    Storage,
    StorageError,
    StorageKeyError,
    check_key,
)

__all__ = [
    "ObjectNotFoundError",
    "Storage",
    "StorageError",
    "StorageKeyError",
    "check_key",
    "create_storage",
]


def create_storage(settings: StorageSettings) -> Storage:
    """Build the store named by ``settings.type``."""
    if isinstance(settings, LocalStorageSettings):
        from cloud.storage.local import LocalStorage

        return LocalStorage(settings.root)
    if isinstance(settings, S3StorageSettings):
        from cloud.storage.s3 import S3Storage

        secret = settings.secret_access_key
        return S3Storage(
            settings.bucket,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            access_key_id=settings.access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            create_bucket=settings.create_bucket,
        )
    raise StorageError(f"unknown storage type {getattr(settings, 'type', None)!r}")
