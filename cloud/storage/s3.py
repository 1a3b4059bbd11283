"""The production object store: S3 or any S3-compatible endpoint (MinIO, Ceph) via boto3.

Requests are signed with SigV4; every upload carries a SHA-256 checksum the server
verifies, and objects above ``multipart_threshold`` go up in parts.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

from cloud.storage.base import ObjectNotFoundError, Storage, StorageError, check_key, check_prefix

logger = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 16 * 1024 * 1024


class S3Storage(Storage):
    """Objects in one bucket (created on first use if allowed)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = False,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"}
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 * 1024 * 1024),
        )
        if create_bucket:
            self._ensure_bucket(region)

    def _ensure_bucket(self, region: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError:
            pass
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self._client.create_bucket(**kwargs)
        logger.info("created bucket %s", self.bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        check_key(key)
        extra = {"ContentType": content_type, "ChecksumAlgorithm": "SHA256"}
        try:
            if len(data) >= self._transfer.multipart_threshold:
                self._client.upload_fileobj(
                    io.BytesIO(data), self.bucket, key, ExtraArgs=extra, Config=self._transfer
                )
            else:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        except Exception as exc:
            raise StorageError(f"S3 upload of {key} to bucket {self.bucket} failed: {exc}") from exc

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFoundError(key) from None
            raise StorageError(f"S3 read of {key} failed: {exc}") from exc
        data: bytes = response["Body"].read()
        return data

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise StorageError(f"S3 head of {key} failed: {exc}") from exc
        return True

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=check_prefix(prefix)):
            for item in page.get("Contents", []):
                yield item["Key"]

    def url(self, key: str, expires_s: int = 3600) -> str:
        link: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=expires_s
        )
        return link

    def close(self) -> None:
        self._client.close()
