"""Image pipeline throughput and memory: upload and processing per image size under moto, against a bare Pillow
resize of the same image in the same run.

For each size (100 KB, 1 MB, 10 MB; random-pixel PNGs, which do not compress, so the byte size is the point):

  baseline  - Pillow only: open, load, two ``thumbnail()`` resizes (1024 and 256 px) saved as WebP. No checks,
              no AWS. The floor any processor pays.
  upload    - ``image_upload.handle`` on an API Gateway event against moto: content checks (signature, structure
              walk, markup scan, Pillow header + verify), STS session, S3 PutObject, DynamoDB PutItem. Images over
              the 4 MiB inline limit take the presigned path: the presign request, then the tenant's PUT of the
              bytes to S3 (what the browser's POST does), timed together.
  process   - ``image_processor.process_message`` on the S3 notification moto delivered through SQS: row read,
              GetObject, the same checks, full decode, both renditions, two PutObjects, UpdateItem.

Memory per invocation is measured in a fresh child process per size and leg (Linux ``VmHWM`` after the leg's
work on the bytes, reset just before it, minus ``VmRSS`` before it; see :func:`child`): what one invocation of that size
adds to the runtime's baseline, which sizes ``processor_memory_mb`` / ``upload_memory_mb``.

    .venv/bin/python benchmarks/image_pipeline.py [--repeat 3] [--sizes 100000,1000000,10000000] [--no-max-pixels]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "POWERTOOLS_METRICS_NAMESPACE": "saas",
    }
)

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent  # noqa: E402
from moto import mock_aws  # noqa: E402
from PIL import Image  # noqa: E402

from saas_platform.handlers import image_processor as proc  # noqa: E402
from saas_platform.handlers import image_upload as up  # noqa: E402
from saas_platform.handlers._image_checks import decode, inspect_image  # noqa: E402
from saas_platform.handlers._tenant_session import TenantSessions  # noqa: E402
from tests.image_fixtures import api_event, image_bytes, image_of_size, make_pipeline  # noqa: E402

SIZES = (100_000, 1_000_000, 10_000_000)


def baseline(body: bytes) -> None:
    with Image.open(io.BytesIO(body)) as img:
        img.load()
        for px in (1024, 256):
            frame = img.copy()
            frame.thumbnail((px, px), Image.Resampling.LANCZOS)
            frame.save(io.BytesIO(), "WEBP", quality=82, method=4)


def image_for(size: int) -> bytes:
    body = image_of_size(int(size * 0.97))
    assert len(body) <= 10 * 1024 * 1024, len(body)
    return body


def upload_once(p: Any, body: bytes, key: str) -> str:
    cfg = up.Settings.from_env(p.upload_env())
    if len(body) <= cfg.inline_max_bytes:
        answer = up.handle(APIGatewayProxyEvent(api_event(body, key=key)), cfg, p.sts)
        assert answer["statusCode"] == 201, answer
        return json.loads(answer["body"])["imageId"]
    request = json.dumps({"contentType": "image/png", "sizeBytes": len(body)})
    answer = up.handle(
        APIGatewayProxyEvent(api_event(request, key=key, content_type="application/json", binary=False)), cfg, p.sts
    )
    assert answer["statusCode"] == 201, answer
    doc = json.loads(answer["body"])
    fields = doc["upload"]["fields"]
    session = TenantSessions(cfg.scope, cfg.known_tenants, p.sts).get("acme")
    session.s3.put_object(  # the browser's POST of the form, done with the same tenant credentials
        Bucket=cfg.raw_bucket,
        Key=fields["key"],
        Body=body,
        ContentType="image/png",
        Metadata={"tenant": "acme", "owner": "u-1"},
    )
    return doc["imageId"]


def process_all(p: Any) -> int:
    cfg = proc.Settings.from_env(p.processor_env())
    sessions = TenantSessions(cfg.scope, cfg.known_tenants, p.sts)
    done = 0
    for record in p.sqs_event(p.receive())["Records"]:
        outcome = proc.process_message(record, cfg, sessions, p.sqs)
        done += outcome.status == "processed"
    return done


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(size: int, repeat: int, body: bytes | None = None) -> dict[str, Any]:
    body = body if body is not None else image_for(size)
    base, ups, procs = [], [], []
    for r in range(repeat):  # interleaved: each repetition runs all three legs on the same image
        base.append(timed(lambda: baseline(body)))
        with mock_aws():
            p = make_pipeline()
            p.receive()  # drop S3's test event
            ups.append(timed(lambda p=p, r=r: upload_once(p, body, f"bench-key-{r:04d}")))
            procs.append(timed(lambda p=p: process_all(p)))
            assert p.keys(p.processed), "nothing processed"
    return {"bytes": len(body), "body": body, "baseline": base, "upload": ups, "process": procs}


def child(leg: str, path: str) -> None:
    """The leg's working set for one image in this fresh process; prints the peak-RSS delta in MB.

    What is measured is the handler's own work on the bytes (no moto, whose in-memory copies of a stored object
    would set the process peak): ``upload`` - decode the event's base64 body and run the content checks;
    ``process`` - a copy of the body as ``GetObject`` returns it, the checks, full decode and both renditions.
    The image comes from ``path`` (generated by the parent, so generating it does not set the peak), and a small
    image goes through the same steps first, so imports and lazily loaded codecs are not counted."""
    body = Path(path).read_bytes()

    def work(data: bytes, encoded: str | None) -> None:
        if leg == "upload":
            assert encoded is not None
            inspect_image(base64.b64decode(encoded, validate=True), "image/png")
            return
        fetched = bytes(bytearray(data))  # GetObject's body
        inspect_image(fetched)
        with decode(fetched) as img:
            proc.render(img, 1024)
            proc.render(img, 256)

    warm = image_bytes("PNG", (64, 64))
    work(warm, base64.b64encode(warm).decode())
    encoded = base64.b64encode(body).decode() if leg == "upload" else None
    # ru_maxrss survives execve (it would report the parent's peak); the mm's VmHWM does not, and writing 5 to
    # clear_refs resets it to the current RSS, so the peak below is this invocation's alone.
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS")
    work(body, encoded)
    after = _status_kb("VmHWM")
    print(json.dumps({"peak_mb": after / 1024, "delta_mb": (after - before) / 1024}))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_mb(leg: str, body: bytes) -> str:
    """``"<process peak RSS> (+<what this image added>)"`` in MB, from a fresh child process."""
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        f.write(body)
        f.flush()
        out = subprocess.run(
            [sys.executable, __file__, "--child", leg, f.name], check=True, capture_output=True, text=True
        ).stdout
    doc = json.loads(out.strip().splitlines()[-1])
    return f"{doc['peak_mb']:.0f} (+{doc['delta_mb']:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description="Image pipeline throughput and memory under moto")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--max-pixels", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--child", nargs=2, metavar=("LEG", "SIZE"), help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child:
        child(a.child[0], a.child[1])
        return
    measure(20_000, 1)  # warm-up: imports, codecs, moto's first calls
    print(
        "| image | bytes | Pillow resize baseline (ms) | upload (ms) | upload / baseline | process (ms) | "
        "process / baseline | images/s processed | upload peak RSS (MB, +image) | process peak RSS (MB, +image) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in a.sizes.split(",")):
        m = measure(size, a.repeat)
        b, u, pr = (statistics.median(m[k]) * 1000 for k in ("baseline", "upload", "process"))
        label = f"{size / 1_000_000:g} MB" if size >= 1_000_000 else f"{size // 1000} KB"
        path = "inline" if m["bytes"] <= up.INLINE_MAX_BYTES else "presigned"
        upload_mb = peak_mb("upload", m["body"]) if path == "inline" else "- (bytes bypass the function)"
        print(
            f"| {label} ({path}) | {m['bytes']:,} | {b:.0f} | {u:.0f} | {u / b:.1f}x | {pr:.0f} | {pr / b:.1f}x | "
            f"{1000 / pr:.1f} | {upload_mb} | {peak_mb('process', m['body'])} |"
        )
    if a.max_pixels:
        # the largest image the checks accept (40 MP): small on the wire, large in memory - what sizes the processor
        body = image_bytes("PNG", (7999, 5000))
        m = measure(len(body), a.repeat, body)
        b, u, pr = (statistics.median(m[k]) * 1000 for k in ("baseline", "upload", "process"))
        print(
            f"| 40 MP, 7999x5000 (inline) | {m['bytes']:,} | {b:.0f} | {u:.0f} | {u / b:.1f}x | {pr:.0f} | "
            f"{pr / b:.1f}x | {1000 / pr:.1f} | {peak_mb('upload', body)} | {peak_mb('process', body)} |"
        )
    print(
        f"\nmedian of {a.repeat} (after a warm-up); moto in-process (no network); peak RSS: what one invocation adds "
        "- peak RSS of a fresh, warmed-up process running the handler's work on the bytes, and (+) what the image "
        "added over the process before it"
    )


if __name__ == "__main__":
    main()
