"""A local S3-protocol server for the material store tests, and helpers around it.

moto's ThreadedMotoServer runs in a thread of the test process and serves the S3 REST
API on 127.0.0.1 (SigV4 signing, bucket and key errors). It accepts any credentials
until ``required_auth`` turns IAM checks on. It stores the checksums that an upload
sends but does not verify them (moto 5.2).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
from botocore.config import Config
from moto.server import ThreadedMotoServer

from confsvc.settings import Settings

ACCESS_KEY_ID = "confsvc-test-key"
SECRET_ACCESS_KEY = "confsvc-test-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self, *, access_key_id: str = ACCESS_KEY_ID, secret_access_key: str = SECRET_ACCESS_KEY) -> Any:
        """Return a boto3 S3 client for checking what the service stored."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    @contextmanager
    def required_auth(self) -> Iterator[tuple[str, str]]:
        """Turn on moto's credential checks and yield a valid (key id, secret) pair.

        The pair belongs to an IAM user without policies, so it passes the signature
        check but gets AccessDenied. The checks are off again afterwards.
        """
        iam = boto3.session.Session().client(
            "iam", endpoint_url=self.endpoint_url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        name = f"no-policy-{len(iam.list_users()['Users'])}"
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        switched = httpx.post(f"{self.endpoint_url}/moto-api/reset-auth", content=b"0")
        assert switched.status_code == 200, switched.text
        try:
            yield key["AccessKeyId"], key["SecretAccessKey"]
        finally:
            restored = httpx.post(f"{self.endpoint_url}/moto-api/reset-auth", content=b"inf")
            assert restored.status_code == 200, restored.text


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()


def with_s3_store(settings: Settings, endpoint_url: str, bucket: str, **changes: Any) -> Settings:
    """Return ``settings`` with the material store switched to S3 at ``endpoint_url``."""
    values: dict[str, Any] = {
        "materials_store": "s3",
        "s3_endpoint_url": endpoint_url,
        "s3_bucket": bucket,
        "s3_region": REGION,
        "s3_access_key_id": ACCESS_KEY_ID,
        "s3_secret_access_key": SECRET_ACCESS_KEY,
        "s3_prefix": "confsvc/materials",
        "s3_addressing_style": "path",
        "s3_timeout_seconds": 3,
    }
    preparation = dataclasses.replace(settings.preparation, **{**values, **changes})
    preparation.check_materials_store()
    return dataclasses.replace(settings, preparation=preparation)
