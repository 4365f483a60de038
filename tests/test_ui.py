"""The Dagster UI of a warehouse, as a data manager sees it: dagster-webserver (no daemon, so
nothing launches runs) on a copy of the demo warehouse and its run history, queried through
GraphQL and opened in Debian's chromium driven by Selenium.

The session's demo stays untouched: the warehouse file and the Dagster home are copied into the
module's own folder, whose work folder receives the dbt project the definitions regenerate."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from cartwh.previews import PREVIEW_COLUMNS
from cartwh.project import PROJECT_ROOT, WORKSPACE_FILE
from cartwh.settings import Settings, read_settings
from cartwh.transform.prepare import dbt_environment
from orchestration.catalogue import LAYERS
from orchestration.refresh import dagster_instance
from tests.browser import headless_chromium

WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
START_TIMEOUT_S = 120
#: the text of the community sign-up modal that nux: enabled: false turns off
SIGN_UP_MODAL = "Join the Dagster community"
#: a warning check that fails on the demo: its deliveries carry rows the gate quarantines
FAILING_CHECK = (("quality", "quarantine"), "quarantined_rows")


@dataclass
class UI:
    url: str
    settings: Settings
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        assert "errors" not in answer, answer["errors"]
        return answer["data"]


LOCATIONS = """{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation {
            repositories {
              name
              assetGroups { groupName }
              sensors { name }
              schedules { name }
            }
          }
        }
      }
    }
  }
}"""

ASSET_NODES = """{
  assetNodes {
    assetKey { path }
    groupName
    description
    owners { __typename ... on TeamAssetOwner { team } }
    tags { key value }
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks { name description blocking executionForLatestMaterialization { status } }
      }
    }
  }
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_of_demo(demo, root: Path) -> dict[str, str]:
    """The demo's warehouse and Dagster home (its run history) under ``root``; the environment
    of that copy, with no CARTWH_, DBT_ or DAGSTER_ variable of the session's demo left over."""
    env = {**demo.env(), "CARTWH_DATA": str(root)}
    for name, folder in (("CARTWH_LANDING", "landing"), ("CARTWH_OUTPUT", "output")):
        env[name] = str(root / folder)
        (root / folder).mkdir(parents=True)
    env["CARTWH_WAREHOUSE"] = str(root / demo.warehouse.name)
    settings = read_settings(env)
    assert not settings.work.is_relative_to(demo.root)
    shutil.copy2(demo.warehouse, settings.warehouse)
    wal = demo.warehouse.with_name(demo.warehouse.name + ".wal")
    if wal.exists():
        shutil.copy2(wal, settings.warehouse.with_name(wal.name))
    shutil.copytree(demo.settings().dagster_home, settings.dagster_home)
    dagster_instance(settings).dispose()
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("CARTWH_", "DBT_", "DAGSTER_"))
    }
    return {
        **inherited,
        **env,
        **dbt_environment(settings),
        "DAGSTER_HOME": str(settings.dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "true",
    }


def _tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def _wait_until_loaded(ui: UI, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster-webserver ended:\n{ui.log.read_text()[-3000:]}"
        try:
            entries = ui.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"the UI did not load in {START_TIMEOUT_S} s:\n{ui.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def demo_state(demo):
    return _tree_state(demo.root)


@pytest.fixture(scope="module")
def ui(demo, demo_state, tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    env = _copy_of_demo(demo, root)
    port = _free_port()
    log = root / "webserver.log"
    with log.open("wb") as out:
        # its own session, so that stopping it by PID also stops the code server it starts
        process = subprocess.Popen(
            [str(WEBSERVER), "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE_FILE)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = UI(f"http://127.0.0.1:{port}", read_settings(env), log)
    try:
        _wait_until_loaded(served, process)
        yield served
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _repository(ui: UI) -> dict:
    [entry] = ui.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "cartwh"
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    [repository] = location["repositories"]
    return repository


def test_the_code_location_cartwh_loads_with_every_layer_group(ui):
    repository = _repository(ui)
    assert set(LAYERS) <= {g["groupName"] for g in repository["assetGroups"]}


def test_the_sensor_and_the_schedule_are_listed(ui):
    repository = _repository(ui)
    assert "new_deliveries" in {s["name"] for s in repository["sensors"]}
    assert "daily_refresh" in {s["name"] for s in repository["schedules"]}


def test_every_group_lists_its_assets_with_owner_and_layer_tags(ui):
    nodes = ui.graphql(ASSET_NODES)["assetNodes"]
    by_group: dict[str, list[dict]] = {}
    for node in nodes:
        by_group.setdefault(node["groupName"], []).append(node)
    assert set(LAYERS) <= set(by_group)
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {
        "raw/xz__patients",
        "staging/stg_xz__patients",
        "mart/patient_outcomes",
        "restricted/patient_crosswalk",
        "quality/check_results",
        "reference/check_catalogue",
        "analysis/km_estimates",
        "analysis/report",
        "analysis/published",
    } <= keys
    assert {"/".join(n["assetKey"]["path"]) for n in by_group["report"]} == {
        "analysis/report",
        "analysis/published",
    }
    for group, members in by_group.items():
        layer = LAYERS.get(group)
        if layer is None:  # test_no_asset_is_left_in_the_default_group says which
            continue
        for node in members:
            tags = {t["key"]: t["value"] for t in node["tags"]}
            assert tags["layer"] == group, node
            assert node["owners"] == [{"__typename": "TeamAssetOwner", "team": layer.owner[5:]}]
            if layer.phi:
                assert tags["phi"] == "true", node
    staging = {"/".join(n["assetKey"]["path"]): n for n in by_group["staging"]}
    assert {"key": "centre", "value": "tj"} in staging["staging/stg_tj__labs"]["tags"]


def test_no_asset_is_left_in_the_default_group(ui):
    """The ledger tables dbt reads as sources are declared (orchestration.assets.raw
    LEDGER_ASSETS) and so listed under raw."""
    nodes = ui.graphql(ASSET_NODES)["assetNodes"]
    assert [n["assetKey"]["path"] for n in nodes if n["groupName"] not in LAYERS] == []


def test_checks_are_described_and_the_demo_history_has_a_failed_one(ui, demo):
    checks = {
        ("/".join(n["assetKey"]["path"]), c["name"]): c
        for n in ui.graphql(ASSET_NODES)["assetNodes"]
        if n["assetChecksOrError"]["__typename"] == "AssetChecks"
        for c in n["assetChecksOrError"]["checks"]
    }
    manifest = json.loads(
        (demo.root / "warehouse_work" / "dbt" / "target" / "manifest.json").read_text()
    )
    one_model_tests = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and len([d for d in node["depends_on"]["nodes"] if d.startswith("model.")]) == 1
    }
    # every dbt test of one model is a check of its asset, beside the Python checks
    assert one_model_tests <= {name for _, name in checks}
    assert len(checks) > len(one_model_tests) > 300
    undescribed = [key for key, check in checks.items() if not (check["description"] or "")]
    assert undescribed == []
    not_null = checks[("mart/patient_outcomes", "not_null_patient_outcomes_patient_key")]
    assert not_null["description"] == (
        "patient_outcomes.patient_key is never missing. A failure stops the assets downstream."
    )
    assert not_null["blocking"]
    # code lists are tested once on the union of the centres, not per centre's staging model
    assert not [key for key in checks if key[0].startswith("staging/")]
    sex = checks[
        ("intermediate/int_patients_unioned", "accepted_values_int_patients_unioned_sex__m__f")
    ]
    assert sex["description"] == (
        "int_patients_unioned.sex takes only the values: m, f. "
        "A failure stops the assets downstream."
    )
    own = checks[("mart/patient_outcomes", "patient_outcomes_lfs_only_for_complete_responders")]
    assert own["description"].startswith("LFS is defined only for patients with a CR at day 30.")
    asset, name = FAILING_CHECK
    failing = checks[("/".join(asset), name)]
    assert failing["executionForLatestMaterialization"]["status"] == "FAILED"


LATEST_METADATA = """query ($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    assetMaterializations(limit: 1) { metadataEntries { ...entry } }
    assetObservations(limit: 1) { metadataEntries { ...entry } }
  }
}
fragment entry on MetadataEntry {
  label
  ... on MarkdownMetadataEntry { mdStr }
  ... on IntMetadataEntry { intValue }
  ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url }
  ... on TextMetadataEntry { text }
}"""


def _latest_metadata(ui: UI, *keys: tuple[str, ...]) -> dict[tuple[str, ...], dict]:
    """The metadata of each asset's latest materialisation, then of its latest observation."""
    nodes = ui.graphql(LATEST_METADATA, {"keys": [{"path": list(k)} for k in keys]})
    found = {}
    for node in nodes["assetNodes"]:
        events = node["assetMaterializations"] + node["assetObservations"]
        entries = [e for event in events for e in event["metadataEntries"]]
        found[tuple(node["assetKey"]["path"])] = {
            e["label"]: next((v for k, v in e.items() if k != "label"), None) for e in entries
        }
    return found


def test_materialisations_say_what_each_step_produced(ui, demo):
    raw, mart = ("raw", "xz__patients"), ("mart", "patient_outcomes")
    expectations, report = ("quality", "mart_expectations"), ("analysis", "report")
    metadata = _latest_metadata(ui, raw, mart, expectations, report)
    [(xz_rows,)] = demo.query("select count(*) from raw.xz__patients")
    assert metadata[raw]["dagster/row_count"] == xz_rows
    assert metadata[raw]["current_delivery"] == "2023-03-01"
    [(patients,)] = demo.query("select count(*) from mart.patient_outcomes")
    assert metadata[mart]["dagster/row_count"] == patients
    preview = metadata[mart]["preview"].splitlines()
    assert [c.strip() for c in preview[0].strip("|").split("|")] == list(PREVIEW_COLUMNS)
    assert len(preview) == 2 + 5  # header, rule, five patients
    assert all(len(row.split("|")[1].strip()) == 11 for row in preview[2:])  # key shortened
    docs = demo.output / "data_docs" / "index.html"
    assert metadata[expectations]["data_docs"] == str(docs)
    assert metadata[expectations]["failing_blocking_checks"] == 0
    [(failing,)] = demo.query("select count(*) from quality.check_results where status = 'failed'")
    assert metadata[expectations]["failing_quality_checks"] == failing
    assert metadata[report]["report"] == str(demo.output / "report.html")
    assert metadata[report]["figures"] == len(list((demo.output / "figures").glob("*.png")))
    thumbnails = metadata[report]["kaplan_meier"].split("\n\n")
    assert [t.split("]")[0] for t in thumbnails] == [
        "![km_LFS_toxicity_group",
        "![km_OS_toxicity_group",
    ]
    assert all("](data:image/png;base64," in t for t in thumbnails)


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(width=1600) as driver:
        yield driver


def _page_text_once(browser, expected: list[str], timeout_s: float = 45) -> str:
    """The page's text once every expected string is in it (the UI renders after loading)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = browser.find_element(By.TAG_NAME, "body").text
        if all(e in text for e in expected):
            return text
        time.sleep(0.5)
    missing = [e for e in expected if e not in text]
    pytest.fail(f"not on the page after {timeout_s} s: {missing}\n{text[:3000]}")


def _screenshot(browser, ui: UI, name: str) -> Path:
    folder = ui.settings.output / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def test_the_catalogue_shows_every_group(ui, browser):
    browser.get(f"{ui.url}/locations/cartwh/asset-groups")
    text = _page_text_once(browser, ["cartwh", *(f"\n{group}\n" for group in LAYERS)])
    assert SIGN_UP_MODAL not in text
    lines = text.splitlines()
    for group in LAYERS:  # each group is listed with its number of assets
        assert re.fullmatch(r"\d+ assets?", lines[lines.index(group) + 1]), group
    print(_screenshot(browser, ui, "catalogue"))
    browser.get(f"{ui.url}/asset-groups")  # the lineage of the groups, folded
    text = _page_text_once(browser, [f"\n{group}\n" for group in LAYERS])
    assert SIGN_UP_MODAL not in text
    print(_screenshot(browser, ui, "group_lineage"))


def test_a_failed_check_is_shown_with_its_description(ui, browser):
    asset, name = FAILING_CHECK
    browser.get(f"{ui.url}/assets/{'/'.join(asset)}?view=checks&checkDetail={name}")
    text = _page_text_once(browser, [name, "Rows held back, by rule, with a sample.", "Failed"])
    assert SIGN_UP_MODAL not in text
    print(_screenshot(browser, ui, "failed_check"))


def test_the_demo_warehouse_is_left_alone(ui, demo, demo_state):
    assert _tree_state(demo.root) == demo_state
