"""S3-compatible blob store (AWS S3, MinIO, Ceph RGW, Alibaba OSS S3 API) for sealed recordings.

Same port as :class:`records.blobstore.FileBlobStore`; objects live at ``<prefix><key>`` in one
bucket, and only ciphertext (SM4-GCM sealed by the vault) is ever uploaded, so no server-side
encryption is asked for. The bucket is provisioned outside the app (versioning, object lock,
lifecycle); this adapter never creates one.

- ``writer``: bytes are buffered in memory; a small object is one ``PutObject`` when the block
  exits, a large one a multipart upload (parts of ``part_size`` bytes) completed when it exits and
  aborted otherwise. Both become visible whole or not at all, and every request carries a
  Content-MD5 the server checks. A crash leaves at most an incomplete multipart upload, which is
  invisible to readers and aborted by :meth:`S3BlobStore.clean_temporary` (a bucket lifecycle
  rule ``AbortIncompleteMultipartUpload`` is a good second net).
- ``reader``: a seekable file over ranged ``GetObject`` requests pinned to the object's ETag
  (``If-Match``), so the vault's header/tag/body reads cost three requests and a replaced object
  is detected instead of read half old, half new.
- Errors are translated at the boto3 edge (:mod:`records.s3_client`); messages carry the S3
  operation and error code, never an object key or the bucket contents.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from ivr.errors import ConfigError, IntegrityError, LocalProtocolError
from ivr.settings import Settings
from records.blobstore import BlobNotFoundError, check_key, is_valid_key
from records.s3_client import make_client, s3_edge

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 << 20  # the S3 minimum for every part but the last
DEFAULT_PART_SIZE = 16 << 20


def _md5(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def _ours(name: str) -> bool:
    """A name under the prefix that this store could have written."""
    return is_valid_key(name)


def normalize_prefix(prefix: str) -> str:
    """``"a/b"`` → ``"a/b/"``; empty stays empty. Leading slashes are dropped."""
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


class S3BlobStore:
    """Sealed recordings in one S3 bucket under ``prefix`` (see the module doc)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if not bucket:
            raise ConfigError("an S3 bucket name is required")
        if part_size < MIN_PART_SIZE:
            raise ConfigError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.part_size = part_size

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        if not settings.records_s3_bucket:
            raise ConfigError("IVR_RECORDS_S3_BUCKET is not set")
        client = make_client(
            endpoint=settings.records_s3_endpoint,
            region=settings.records_s3_region,
            access_key_id=(
                settings.records_s3_access_key_id.get_secret_value()
                if settings.records_s3_access_key_id
                else None
            ),
            secret_access_key=(
                settings.records_s3_secret_access_key.get_secret_value()
                if settings.records_s3_secret_access_key
                else None
            ),
            addressing_style=settings.records_s3_addressing_style,
            timeout_s=settings.records_s3_timeout_s,
        )
        return cls(client, settings.records_s3_bucket, settings.records_s3_prefix)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    # -- the port ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        upload = _Upload(self, self._name(key))
        try:
            # _Upload takes every byte it is given, so the raw object is a complete file
            yield cast(BinaryIO, upload)
            upload.commit()
        except BaseException:
            upload.abort()
            raise
        finally:
            upload.close()

    @contextlib.contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        name = self._name(key)
        with s3_edge("HeadObject"):
            head = self.client.head_object(Bucket=self.bucket, Key=name)
        raw = _RangeReader(self, name, int(head["ContentLength"]), head["ETag"])
        with io.BufferedReader(raw, buffer_size=1 << 16) as fh:
            yield fh

    def exists(self, key: str) -> bool:
        name = self._name(key)
        try:
            with s3_edge("HeadObject"):
                self.client.head_object(Bucket=self.bucket, Key=name)
        except BlobNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            with s3_edge("DeleteObject"):
                self.client.delete_object(Bucket=self.bucket, Key=name)
        except BlobNotFoundError:
            return

    def keys(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with s3_edge("ListObjectsV2"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    name = obj.get("Key", "")[len(self.prefix) :]
                    if _ours(name):
                        yield name

    def clean_temporary(self, older_than_s: float) -> int:
        """Abort multipart uploads under the prefix started ``older_than_s`` ago or earlier."""
        cutoff = time.time() - older_than_s
        paginator = self.client.get_paginator("list_multipart_uploads")
        stale: list[tuple[str, str]] = []
        with s3_edge("ListMultipartUploads"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for up in page.get("Uploads", []):
                    started = up.get("Initiated")
                    if not _ours(up.get("Key", "")[len(self.prefix) :]):
                        continue  # another application's upload in a shared bucket
                    if started is not None and started.timestamp() <= cutoff:
                        stale.append((up["Key"], up["UploadId"]))
        removed = 0
        for name, upload_id in stale:
            try:
                with s3_edge("AbortMultipartUpload"):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=upload_id
                    )
            except BlobNotFoundError:
                continue  # finished or aborted meanwhile
            removed += 1
        return removed


class _Upload(io.RawIOBase):
    """The raw sink behind ``writer``: buffers, uploads full parts, commits or aborts."""

    def __init__(self, store: S3BlobStore, name: str) -> None:
        super().__init__()
        self._store = store
        self._name = name
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._done = False

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        if self._done:
            raise LocalProtocolError("write after the object was committed")
        data = memoryview(b).cast("B")
        self._buf += data
        while len(self._buf) >= self._store.part_size:
            part = bytes(self._buf[: self._store.part_size])
            del self._buf[: self._store.part_size]
            self._upload_part(part)
        return len(data)

    def _upload_part(self, data: bytes) -> None:
        s = self._store
        if self._upload_id is None:
            with s3_edge("CreateMultipartUpload"):
                created = s.client.create_multipart_upload(
                    Bucket=s.bucket, Key=self._name, ContentType="application/octet-stream"
                )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        with s3_edge("UploadPart"):
            resp = s.client.upload_part(
                Bucket=s.bucket,
                Key=self._name,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
                ContentMD5=_md5(data),
            )
        self._parts.append({"ETag": resp["ETag"], "PartNumber": number})

    def commit(self) -> None:
        s = self._store
        data = bytes(self._buf)
        self._buf.clear()
        if self._upload_id is None:
            with s3_edge("PutObject"):
                s.client.put_object(
                    Bucket=s.bucket,
                    Key=self._name,
                    Body=data,
                    ContentMD5=_md5(data),
                    ContentType="application/octet-stream",
                )
        else:
            if data:
                self._upload_part(data)
            with s3_edge("CompleteMultipartUpload"):
                s.client.complete_multipart_upload(
                    Bucket=s.bucket,
                    Key=self._name,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        self._done = True

    def abort(self) -> None:
        """Drop what was written; best effort (``clean_temporary`` retries later)."""
        self._buf.clear()
        if self._upload_id is None or self._done:
            return
        s = self._store
        try:
            with s3_edge("AbortMultipartUpload"):
                s.client.abort_multipart_upload(
                    Bucket=s.bucket, Key=self._name, UploadId=self._upload_id
                )
        except BlobNotFoundError:
            pass  # already aborted (e.g. by clean_temporary)
        except Exception as exc:  # noqa: BLE001 - best effort; must not mask the original error
            log.warning("S3 multipart upload left for clean-up: %s", type(exc).__name__)
        self._upload_id = None


class _RangeReader(io.RawIOBase):
    """A seekable raw reader over ranged GETs of one object version (pinned by ETag)."""

    def __init__(self, store: S3BlobStore, name: str, size: int, etag: str) -> None:
        super().__init__()
        self._store = store
        self._name = name
        self._size = size
        self._etag = etag
        self._pos = 0
        self._body: StreamingBody | None = None
        self._body_pos = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            pos = offset
        elif whence == os.SEEK_CUR:
            pos = self._pos + offset
        elif whence == os.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not view or self._pos >= self._size:
            return 0
        if self._body is None or self._body_pos != self._pos:
            self._open_at(self._pos)
        assert self._body is not None
        with s3_edge("GetObject"):
            data = self._body.read(min(len(view), self._size - self._pos))
        if not data:
            self._drop_body()
            raise IntegrityError("sealed recording shorter than the store reported")
        n = len(data)
        view[:n] = data
        self._pos += n
        self._body_pos += n
        return n

    def _open_at(self, pos: int) -> None:
        self._drop_body()
        s = self._store
        with s3_edge("GetObject"):
            resp = s.client.get_object(
                Bucket=s.bucket, Key=self._name, Range=f"bytes={pos}-", IfMatch=self._etag
            )
        self._body = resp["Body"]
        self._body_pos = pos

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
            self._body_pos = -1

    def close(self) -> None:
        self._drop_body()
        super().close()
