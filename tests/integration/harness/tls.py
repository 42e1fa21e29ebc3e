"""Self-signed certificates made with the openssl command line."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def make_self_signed_cert(directory: Path, name: str = "server",
                          cn: str = "127.0.0.1") -> tuple[Path, Path]:
    """Writes NAME.crt and NAME.key (mode 0600), valid for 127.0.0.1 and localhost."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
                    "-subj", f"/CN={cn}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key
