"""MNIST / FashionMNIST downloads from a local HTTP server on 127.0.0.1 (no other host):
mirrors in order, published MD5s, atomic writes, resumed transfers, clear errors."""
import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from locograd import data
from locograd.data.download import DownloadError, default_data_root, download_file
from locograd.data.idx import write_idx

MNIST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
if not os.path.isdir(MNIST_DIR):
    MNIST_DIR = "/work/shared/data/mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
needs_mnist = pytest.mark.skipif(
    not all(os.path.isfile(os.path.join(MNIST_DIR, f)) for f in TEST_FILES),
    reason=f"MNIST test split not found in {MNIST_DIR}")


class Server:
    """Serves ``routes``: path -> bytes, or ``(bytes, cut)`` to send the full Content-Length
    but only ``cut`` bytes (once; later requests get everything), or ``404``. Honours
    ``Range: bytes=N-``; records every request as ``(path, range header)``."""

    def __init__(self):
        self.routes, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                route = server.routes.get(self.path, 404)
                if route == 404:
                    self.send_error(404, "Not Found")
                    return
                body, cut = route if isinstance(route, tuple) else (route, None)
                start = 0
                ranged = self.headers.get("Range")
                if ranged:
                    start = int(ranged.split("=")[1].rstrip("-"))
                self.send_response(206 if ranged else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if cut is not None:
                    server.routes[self.path] = body  # whole from now on
                    self.wfile.write(body[start:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # 127.0.0.1 directly, never through a proxy
    serving = Server()
    yield serving
    serving.close()


def small_split(seed=0, count=30):
    """A tiny MNIST-format test split as gzip bytes, and its MD5 table."""
    rng = np.random.default_rng(seed)
    files = {}
    for name, array in (("t10k-images-idx3-ubyte.gz",
                         rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)),
                        ("t10k-labels-idx1-ubyte.gz",
                         rng.integers(0, 10, count, dtype=np.uint8))):
        raw = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lg-{os.getpid()}-{name}")
        write_idx(raw, array)
        with open(raw, "rb") as handle:
            files[name] = handle.read()
        os.remove(raw)
    return files, {name: hashlib.md5(body).hexdigest() for name, body in files.items()}


@needs_mnist
def test_real_test_split_from_the_second_mirror_after_a_404(server, tmp_path, monkeypatch):
    for name in TEST_FILES:
        with open(os.path.join(MNIST_DIR, name), "rb") as handle:
            server.routes[f"/good/{name}"] = handle.read()
    monkeypatch.setattr(data.MNIST, "mirrors", [f"{server.base}/missing/", f"{server.base}/good"])
    test = data.MNIST(tmp_path, train=False, download=True, progress=False)  # real MD5s
    assert len(test) == 10000 and test.targets[:3].tolist() == [7, 2, 1]
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(TEST_FILES)  # no .part left behind
    assert [path for path, _ in server.requests] == [
        f"/missing/{TEST_FILES[0]}", f"/good/{TEST_FILES[0]}",
        f"/missing/{TEST_FILES[1]}", f"/good/{TEST_FILES[1]}"]
    server.requests.clear()
    again = data.MNIST(tmp_path, split="test", download=True, progress=False)
    assert server.requests == [] and len(again) == 10000  # present and verified: no download


@needs_mnist
def test_the_shared_test_files_have_the_published_checksums():
    for name in TEST_FILES:
        with open(os.path.join(MNIST_DIR, name), "rb") as handle:
            assert hashlib.md5(handle.read()).hexdigest() == data.MNIST.resources[name]


def test_a_broken_transfer_is_resumed(server, tmp_path, monkeypatch):
    files, sums = small_split()
    name = "t10k-images-idx3-ubyte.gz"
    server.routes[f"/m/{name}"] = (files[name], len(files[name]) // 3)
    server.routes["/m/t10k-labels-idx1-ubyte.gz"] = files["t10k-labels-idx1-ubyte.gz"]
    monkeypatch.setattr(data.MNIST, "mirrors", [f"{server.base}/m/"])
    monkeypatch.setattr(data.MNIST, "resources", sums)
    test = data.MNIST(tmp_path, split="test", download=True, progress=False)
    assert len(test) == 30
    assert server.requests[:2] == [(f"/m/{name}", None),
                                   (f"/m/{name}", f"bytes={len(files[name]) // 3}-")]
    with gzip.open(tmp_path / "MNIST" / "raw" / name) as handle:
        assert handle.read()[:4] == b"\x00\x00\x08\x03"


def test_a_wrong_file_fails_its_checksum_and_the_next_mirror_is_used(server, tmp_path,
                                                                      monkeypatch):
    files, sums = small_split()
    wrong, _ = small_split(seed=1)
    for name in files:
        server.routes[f"/bad/{name}"] = wrong[name]
        server.routes[f"/good/{name}"] = files[name]
    monkeypatch.setattr(data.MNIST, "resources", sums)
    monkeypatch.setattr(data.MNIST, "mirrors", [f"{server.base}/bad/"])
    with pytest.raises(DownloadError) as failure:
        data.MNIST(tmp_path, split="test", download=True, progress=False)
    message = str(failure.value)
    assert f"{server.base}/bad/t10k-images-idx3-ubyte.gz: MD5 " in message
    assert sums["t10k-images-idx3-ubyte.gz"] in message
    raw = tmp_path / "MNIST" / "raw"
    assert os.listdir(raw) == []  # nothing under the final name, no .part either
    monkeypatch.setattr(data.MNIST, "mirrors", [f"{server.base}/bad/", f"{server.base}/good/"])
    assert len(data.MNIST(tmp_path, split="test", download=True, progress=False)) == 30


def test_a_corrupt_local_copy_is_downloaded_again(server, tmp_path, monkeypatch):
    files, sums = small_split()
    for name in files:
        server.routes[f"/m/{name}"] = files[name]
    monkeypatch.setattr(data.MNIST, "resources", sums)
    monkeypatch.setattr(data.MNIST, "mirrors", [f"{server.base}/m/"])
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(files["t10k-images-idx3-ubyte.gz"][:50])
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(files["t10k-labels-idx1-ubyte.gz"])
    assert len(data.MNIST(tmp_path, split="test", download=True, progress=False)) == 30
    assert [path for path, _ in server.requests] == ["/m/t10k-images-idx3-ubyte.gz"]


def test_every_failing_mirror_is_named(server, tmp_path):
    with pytest.raises(DownloadError) as failure:
        download_file("x.gz", [f"{server.base}/a", "http://127.0.0.1:9/b/"], tmp_path, "0" * 32,
                      progress=False, timeout=5)
    message = str(failure.value)
    assert f"{server.base}/a/x.gz: HTTP 404" in message
    assert "http://127.0.0.1:9/b/x.gz: " in message
    assert not os.path.exists(tmp_path / "x.gz")


def test_fashion_mnist_has_its_own_checksums_and_folder(server, tmp_path, monkeypatch):
    assert data.FashionMNIST.resources["t10k-labels-idx1-ubyte.gz"] == \
        "bb300cfdad3c16e7a12a480ee83cd310"
    assert data.FashionMNIST.resources.keys() == data.MNIST.resources.keys()
    assert not set(data.FashionMNIST.resources.values()) & set(data.MNIST.resources.values())
    files, sums = small_split()
    for name in files:
        server.routes[f"/f/{name}"] = files[name]
    monkeypatch.setattr(data.FashionMNIST, "resources", sums)
    monkeypatch.setattr(data.FashionMNIST, "mirrors", [f"{server.base}/f/"])
    test = data.FashionMNIST(tmp_path, train=False, download=True, progress=False)
    assert len(test) == 30 and test.classes[9] == "Ankle boot"
    assert sorted(os.listdir(tmp_path / "FashionMNIST" / "raw")) == sorted(files)


def test_default_root_and_argument_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCOGRAD_DATA", str(tmp_path / "cache"))
    assert default_data_root() == str(tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="download=True"):
        data.MNIST(split="test")
    monkeypatch.delenv("LOCOGRAD_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_data_root() == os.path.join(str(tmp_path), ".cache", "locograd")
    with pytest.raises(ValueError, match="contradicts"):
        data.MNIST(tmp_path, split="train", train=False)
