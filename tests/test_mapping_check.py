"""`cartwh mapping check`: a dry run of a mapping on a delivery."""

from __future__ import annotations

from cartwh.cli import main
from tests.conftest import write_delivery

MAPPING = """
centre_code: ab
defaults: {separator: ";", decimal: ",", date_format: "%d.%m.%Y"}
entities:
  patients:
    file: pat.csv
    columns:
      centre_patient_id: ID
      sex: {source: SEX, codes: {M: m, W: f}}
      prior_therapy_lines: LINES
      bm_blasts_pct_pre: BLASTS
      mrn: KIS
  labs:
    file: lab.csv
    columns:
      centre_patient_id: ID
      sample_date: DATUM
      analyte: {source: TEST, codes: {IL6: il6, CRP: crp}}
      value: WERT
      unit: {source: TEST, codes: {IL6: ng/ml, CRP: ng/ml}}
"""


def test_mapping_check_reports_each_kind_of_problem(tmp_path, capsys):
    mapping = tmp_path / "ab.yml"
    mapping.write_text(MAPPING)
    folder = write_delivery(
        tmp_path / "landing",
        "ab",
        "2023-03-01",
        {
            "pat.csv": "ID;SEX;LINES;BLASTS;EXTRA\na1;M;2;12,5;x\na2;X;3;abc;y\n",
            "lab.csv": "ID;DATUM;TEST;WERT\na1;01.02.2023;IL6;0,5\na1;2023-02-02;CRP;1\n",
        },
    )
    code = main(["mapping", "check", str(mapping), "--delivery", str(folder)])
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "[unknown_code] patients: sex <- 'SEX': 1 of 2 rows have a value not in the codes "
        "of the mapping: 'X' x1" in out
    )
    assert "[missing_column] patients: mrn <- 'KIS': not in the delivered file" in out
    assert "[unmapped_column] patients: 'EXTRA' is not mapped" in out
    assert "[required_not_mapped] patients: ph_status has no source" in out
    assert (
        "ERROR [unparsable] patients: bm_blasts_pct_pre <- 'BLASTS': 1 of 2 rows are not numbers "
        "with decimal mark ',' and thousands mark none: 'abc' x1" in out
    )
    assert (
        "ERROR [unparsable] labs: sample_date <- 'DATUM': 1 of 2 rows are not dates in format "
        "'%d.%m.%Y': '2023-02-02' x1" in out
    )
    assert "[unit_problem] labs: no conversion for 'crp' in 'ng/ml' (1 rows); units of crp" in out
    assert "[missing_file] infusions" not in out  # not in the mapping: not expected


def test_mapping_check_refuses_an_invalid_mapping(tmp_path, capsys):
    mapping = tmp_path / "ab.yml"
    mapping.write_text(
        "centre_code: ab\nentities:\n  patients:\n"
        "    columns: {sex: {source: S, codes: {M: male}}}\n"
    )
    folder = write_delivery(tmp_path / "landing", "ab", "2023-03-01", {"patients.csv": "S\nM\n"})
    assert main(["mapping", "check", str(mapping), "--delivery", str(folder)]) == 2
    assert "['male'] are not canonical codes" in capsys.readouterr().err
