"""The policy files load, name their sources, and refuse what the service cannot run with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from painflow_followup.policies import (
    PLANS_FILE,
    PROGRESSION_FILE,
    PolicyError,
    load_plan_policy,
    load_policies,
    load_progression_policy,
    policy_documents,
)
from painflow_shared.codes import NextStep

POLICIES = load_policies()


def test_every_rule_and_procedure_type_names_its_source():
    for rule in POLICIES.progression.rules:
        assert rule.source and rule.cite, rule.id
    for ptype in POLICIES.plans.procedure_types:
        assert "DOMAIN.md" in ptype.source, ptype.id


def test_every_next_step_code_has_a_display():
    assert set(POLICIES.progression.displays) == set(NextStep)


def test_the_uncertain_entries_say_so():
    rules = {r.id: r for r in POLICIES.progression.rules}
    assert rules["mbb-first-block"].uncertain and rules["rfa-repeat"].uncertain
    assert not rules["esi-repeat"].uncertain
    assert all(t.uncertain for t in POLICIES.plans.procedure_types)  # DOMAIN.md: common practice
    data = json.loads(PROGRESSION_FILE.read_text("utf-8"))
    assert "uncertain" in data["uncertain"]


def test_the_site_threshold_picks_among_the_offered_options():
    assert POLICIES.progression.mbb_threshold == 80
    assert load_policies(mbb_threshold=50).progression.mbb_threshold == 50


def test_a_policy_file_missing_a_field_is_refused_at_start(tmp_path: Path):
    data = json.loads(PLANS_FILE.read_text("utf-8"))
    del data["procedure_types"][0]["time_points"][0]["window_end"]
    broken = tmp_path / "plans.json"
    broken.write_text(json.dumps(data), "utf-8")

    with pytest.raises(PolicyError, match=r"plans\.json"):
        load_plan_policy(broken)


def test_a_rule_naming_an_unknown_source_is_refused(tmp_path: Path):
    data = json.loads(PROGRESSION_FILE.read_text("utf-8"))
    data["rules"][0]["source"] = ["nowhere"]
    broken = tmp_path / "progression.json"
    broken.write_text(json.dumps(data), "utf-8")

    with pytest.raises(PolicyError):
        load_progression_policy(broken, POLICIES.plans)


def test_the_served_progression_names_the_site_s_threshold_as_its_default():
    """GET /policies/progression serves what the service runs with: read with no setting, the
    served document picks the same medial branch block threshold as the site's setting."""
    shipped = json.loads(PROGRESSION_FILE.read_text())
    assert policy_documents()["progression"] == shipped  # no setting: the file as shipped
    site = policy_documents(mbb_threshold=50)["progression"]
    assert site["medial_branch_block_threshold"]["default"] == 50
    assert (
        site["medial_branch_block_threshold"]["options"]
        == (shipped["medial_branch_block_threshold"]["options"])
    )
    plans = load_plan_policy(PLANS_FILE)
    assert load_progression_policy(PROGRESSION_FILE, plans, mbb_threshold=50).mbb_threshold == 50
    with pytest.raises(PolicyError):
        policy_documents(mbb_threshold=65)  # not an option: refused as the loader refuses it
