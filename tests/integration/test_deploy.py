"""deploy/: the Prometheus alerting rules pass promtool, and every sluice_* metric the
alerts and the Grafana dashboard use is one the proxy exports."""
import json
import re
import subprocess
from pathlib import Path

from conftest import APP_DB, APP_USER
from harness.http import request
from harness.util import free_port
from test_observability import observed_config, promtool

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "sluice.json"
METRIC = re.compile(r"\bsluice_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def test_alerts_pass_promtool():
    check = subprocess.run([promtool(), "check", "rules", str(ALERTS)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 7 rules found" in check.stdout


def exported_families(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def used_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return set(METRIC.findall(ALERTS.read_text())) | set(METRIC.findall(" ".join(exprs)))


def test_deploy_files_use_exported_metrics(pg, sluice):
    http_port = free_port()
    proxy = sluice(observed_config(pg, http_port))
    proxy.psql("SELECT 1", user=APP_USER, dbname=APP_DB)
    families = exported_families(request(f"http://127.0.0.1:{http_port}/metrics").text)
    missing = set()
    for name in used_metrics():
        base = name
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name[: -len(suffix)] in families:
                base = name[: -len(suffix)]
        if base not in families:
            missing.add(name)
    assert not missing, f"not exported by /metrics: {sorted(missing)}"
