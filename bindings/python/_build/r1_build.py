"""r1_build.py — a PEP 517 build backend for the r1 package, standard library only, so that
`pip install ./bindings/python` works offline on a machine without setuptools/wheel. The package is
pure Python (it loads libr1.so at run time), so a wheel is just r1/*.py and the dist-info files."""

import base64
import hashlib
import os
import tarfile
import zipfile

NAME = "r1"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Python bindings of libr1 (DeepSeek-R1 inference in C), ctypes over "
            "libr1.so\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n"
            + readme)


def _sources():
    pkg = os.path.join(HERE, NAME)
    return sorted(f"{NAME}/{n}" for n in os.listdir(pkg) if n.endswith(".py"))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def _dist_info_files():
    wheel = f"Wheel-Version: 1.0\nGenerator: r1_build\nRoot-Is-Purelib: true\nTag: {TAG}\n"
    return {"METADATA": _metadata(), "WHEEL": wheel}


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = f"{NAME}-{VERSION}.dist-info"
    os.makedirs(os.path.join(metadata_directory, d), exist_ok=True)
    for name, text in _dist_info_files().items():
        with open(os.path.join(metadata_directory, d, name), "w", encoding="utf-8") as f:
            f.write(text)
    return d


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    fname = f"{NAME}-{VERSION}-{TAG}.whl"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, fname), "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            z.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        for src in _sources():
            with open(os.path.join(HERE, src), "rb") as f:
                add(src, f.read())
        for name, text in _dist_info_files().items():
            add(f"{dist_info}/{name}", text.encode("utf-8"))
        record.append(f"{dist_info}/RECORD,,")
        z.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return fname


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{VERSION}"
    fname = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, fname), "w:gz") as t:
        for rel in ["pyproject.toml", "README.md", "_build/r1_build.py"] + _sources():
            t.add(os.path.join(HERE, rel), arcname=f"{base}/{rel}")
        pkg_info = os.path.join(sdist_directory, "PKG-INFO")
        with open(pkg_info, "w", encoding="utf-8") as f:
            f.write(_metadata())
        t.add(pkg_info, arcname=f"{base}/PKG-INFO")
        os.remove(pkg_info)
    return fname
