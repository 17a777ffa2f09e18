"""Write the Prometheus Operator's PrometheusRule from deploy/prometheus/alerts.yml.

The alert rules live once, in alerts.yml (Compose's Prometheus loads it as is); the Kubernetes
example embeds the same text under ``spec:``. Run after editing alerts.yml:

    python scripts/prometheus_rule.py

tests/test_deploy.py fails while the two differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
TARGET = ROOT / "deploy/k8s/components/monitoring/prometheusrule.yaml"

HEADER = """\
# Generated from deploy/prometheus/alerts.yml by `python scripts/prometheus_rule.py`: edit that
# file, then run the script. Give it the labels your Prometheus' ruleSelector picks
# (kube-prometheus-stack: `release: <its release name>`).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: dream
  labels:
    app.kubernetes.io/part-of: dream
spec:
"""


def render(alerts: str) -> str:
    """The PrometheusRule: ``alerts`` (a rule file, ``groups:`` at the top) indented under spec."""
    body = "".join(f"  {line}" if line.strip() else line for line in alerts.splitlines(True))
    return HEADER + body


def main() -> int:
    TARGET.write_text(render(ALERTS.read_text()))
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
