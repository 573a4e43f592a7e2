"""The boto3 edge of the S3 blob store: making a client, and translating its errors.

Errors become ``ivr.errors``: a missing object :class:`records.blobstore.BlobNotFoundError`; a
missing bucket, bad credentials or refused access :class:`ConfigError`; a changed or corrupted
object :class:`IntegrityError`; anything else (connection, timeout, 5xx, throttling)
:class:`StoreUnavailableError`. Messages carry the S3 operation and error code, never an object
key or the bucket contents.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from ivr.errors import (
    ConfigError,
    IntegrityError,
    IvrError,
    LocalProtocolError,
    StoreUnavailableError,
)
from records.blobstore import BlobNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

AddressingStyle = Literal["auto", "path", "virtual"]

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
_CONFIG = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "AllBucketsDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidBucketName",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "403",
        "301",
    }
)
_INTEGRITY = frozenset({"PreconditionFailed", "412", "BadDigest", "InvalidDigest"})


def s3_error(op: str, exc: Exception) -> IvrError:
    """The ``ivr.errors`` equivalent of a botocore exception (no object key in the text)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "")) or str(
            exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        )
        if code in _NOT_FOUND:
            return BlobNotFoundError("sealed recording missing from the store")
        if code in _CONFIG:
            return ConfigError(f"S3 {op} refused ({code}): check bucket, endpoint and credentials")
        if code in _INTEGRITY:
            return IntegrityError(f"S3 {op}: object changed or corrupted in transit ({code})")
        return StoreUnavailableError(f"S3 {op} failed ({code or 'unknown error'})")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(f"S3 {op}: no usable credentials")
    if isinstance(exc, ParamValidationError):
        return LocalProtocolError(f"S3 {op}: invalid request parameters")
    return StoreUnavailableError(f"S3 {op} failed ({type(exc).__name__})")


@contextlib.contextmanager
def s3_edge(op: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise s3_error(op, exc) from exc


def make_client(
    *,
    endpoint: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    addressing_style: AddressingStyle = "auto",
    timeout_s: float = 30.0,
) -> S3Client:
    """A boto3 S3 client for AWS or an S3-compatible endpoint.

    Without keys boto3's own chain is used (environment, profile, instance role). Checksums are
    sent only where S3 requires them (MinIO, Ceph RGW and OSS reject some of boto3's newer
    default checksum headers); uploads carry Content-MD5 instead and the vault verifies every
    object by reading it back.
    """
    if (access_key_id is None) != (secret_access_key is None):
        raise ConfigError("set both the S3 access key id and secret access key, or neither")
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"mode": "standard", "max_attempts": 3},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    try:
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        return session.client("s3", endpoint_url=endpoint or None, config=config)
    except (BotoCoreError, ValueError) as exc:
        raise ConfigError(f"invalid S3 settings ({type(exc).__name__})") from exc
