"""Copy benchmark: registry-to-registry image copy over loopback against the OCI stand-ins.

- **Throughput**: ``service.copy.copy_image`` of a 3-layer image (3 x 64 MiB) in MB/s, against the baseline
  measured in the same run: a plain streamed ``GET -> PUT`` of the very same blobs with ``http.client``
  (no auth, no HEAD, no hashing), into a fresh repository. Target: copy >= 0.8 x baseline.
- **Resume**: blobs re-sent when the same copy runs again (target 0).
- **Memory**: peak RSS of a fresh client process copying a 20 MiB and a 200 MiB image (target: flat; the
  blobs stream through in 1 MiB chunks, no temp files).

The two registries run in a child process (``serve``), so the client's memory is its own. Both sides
store blobs in files and stream them, and use no auth (auth costs a few requests per copy, not bandwidth).

Run: ``make bench`` or ``.venv/bin/python -m bench bench_copy``.
"""

from __future__ import annotations

import functools
import http.client
import json
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

MIB = 1 << 20
THROUGHPUT_LAYERS = (64, 64, 64)  # MiB
MEMORY_SIZES = (20, 200)  # MiB per image, one layer each


def _serve(sizes: list[int]) -> None:
    """Child: a source with one image per size spec, an empty destination; print URLs; wait for stdin EOF."""
    from acrsync.local.oci_images import put_image
    from acrsync.local.oci_registry import OciRegistry

    with OciRegistry(auth="none") as src, OciRegistry(auth="none") as dst:
        refs = {}
        for spec in sizes:
            layers = (spec * MIB,) if spec else tuple(m * MIB for m in THROUGHPUT_LAYERS)
            refs[str(spec)] = put_image(src.state, "bench/img", f"s{spec}", layer_sizes=layers).digest
        print(json.dumps({"src": src.url, "dst": dst.url, "refs": refs}), flush=True)
        sys.stdin.read()


def _client(src: str, dst: str, tag: str) -> None:
    """Child: copy one image and print the peak RSS (KiB) and the bytes sent."""
    import resource

    from acrsync.adapters.oci_registry import HttpRegistryClient
    from acrsync.service.copy import Place, copy_image

    a, b = HttpRegistryClient(src), HttpRegistryClient(dst)
    result = copy_image(Place(a, "bench/img"), tag, Place(b, f"mem/{tag}"), tag)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_kib": peak, "bytes": result.stats.bytes_sent}))


def _plain_stream(src: str, dst: str, digests: list[tuple[str, int]], repo: str) -> int:
    """Baseline: for each blob, GET from the source and stream the body straight into a monolithic PUT."""
    s, d = urlsplit(src).netloc, urlsplit(dst).netloc
    get, put = http.client.HTTPConnection(s), http.client.HTTPConnection(d)
    total = 0
    for digest, size in digests:
        put.request("POST", f"/v2/{repo}/blobs/uploads/")
        started = put.getresponse()
        started.read()
        location = started.getheader("Location", "")
        get.request("GET", f"/v2/bench/img/blobs/{digest}")
        body = get.getresponse()
        chunks = iter(functools.partial(body.read, MIB), b"")
        put.request("PUT", f"{location}?digest={digest}", body=chunks, headers={"Content-Length": str(size)})
        done = put.getresponse()
        done.read()
        assert done.status == 201, done.status
        total += size
    get.close()
    put.close()
    return total


def _throughput(src: str, dst: str) -> dict[str, Any]:
    from acrsync.adapters.oci_registry import HttpRegistryClient
    from acrsync.domain.oci import references
    from acrsync.service.copy import Place, copy_image

    a, b = HttpRegistryClient(src), HttpRegistryClient(dst)
    manifest = a.get_manifest("bench/img", "s0")
    assert manifest is not None
    blobs = [(d.digest, d.size) for d in references(manifest).blobs]
    results: dict[str, list[float]] = {"plain": [], "copy": []}
    for run in range(3):  # interleaved, so drift on a noisy box hits both alike
        t0 = time.perf_counter()
        sent = _plain_stream(src, dst, blobs, f"plain/r{run}")
        results["plain"].append(sent / MIB / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        result = copy_image(Place(a, "bench/img"), "s0", Place(b, f"copy/r{run}"), "s0")
        results["copy"].append(result.stats.bytes_sent / MIB / (time.perf_counter() - t0))
    again = copy_image(Place(a, "bench/img"), "s0", Place(b, "copy/r0"), "s0")
    plain, copy = max(results["plain"]), max(results["copy"])
    a.close()
    b.close()
    return {
        "image_mib": sum(THROUGHPUT_LAYERS),
        "plain_get_put_mb_s": [round(x, 1) for x in results["plain"]],
        "copy_mb_s": [round(x, 1) for x in results["copy"]],
        "copy_vs_plain_best": round(copy / plain, 2),
        "target_ratio": 0.8,
        "repeat_copy_blobs_sent": again.stats.blobs_sent,
        "repeat_copy_manifests_skipped": again.stats.manifests_skipped,
    }


def _memory(src: str, dst: str) -> dict[str, Any]:
    out = {}
    for size in MEMORY_SIZES:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.bench_copy", "client", src, dst, f"s{size}"],
            capture_output=True,
            text=True,
            check=True,
        )
        line = json.loads(proc.stdout.strip().splitlines()[-1])
        out[f"{size}_mib_image_peak_rss_mib"] = round(line["peak_rss_kib"] / 1024, 1)
    small, large = (out[f"{s}_mib_image_peak_rss_mib"] for s in MEMORY_SIZES)
    out["rss_growth_for_10x_image"] = round(large / small, 2)
    return out


def run() -> dict[str, Any]:
    """Start the registries in a child, measure, stop them."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_copy", "serve", "0", *map(str, MEMORY_SIZES)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        result = _throughput(urls["src"], urls["dst"])
        result.update(_memory(urls["src"], urls["dst"]))
        return result
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve([int(x) for x in sys.argv[2:]])
    elif sys.argv[1] == "client":
        _client(*sys.argv[2:5])
