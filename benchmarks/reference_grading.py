"""Plain references for the daily ASTCT 2019 grading (``int_daily_toxicity_graded``).

Two independent implementations over the same input the dbt model reads
(``int_daily_observations_accepted``, ``int_index_infusions``, ``int_patients_deduplicated``,
``int_treatments_standardised``): vectorised pandas (:func:`grade_pandas`) and one bare DuckDB
statement (:data:`GRADING_SQL`). Both return, per patient and study day of the toxicity window,
the columns of :data:`GRADE_COLUMNS`; the benchmark and ``tests/test_bench_references.py``
assert they equal the warehouse table, so the timings compare like with like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the columns compared with the warehouse table (keys first)
KEY_COLUMNS = ["patient_key", "study_day"]
GRADE_COLUMNS = [
    "fever_day",
    "organ_grade",
    "crs_day",
    "treated_day",
    "crs_grade",
    "icans_grade",
]
#: day 0 .. this is the toxicity window (dbt var ``toxicity_window_days``)
WINDOW_DAYS = 30
ANTI_CYTOKINE_CLASSES = ("anti_il6", "anti_il1", "corticosteroid")

#: field -> codes from least to most severe (the model's ``worst_code`` orders)
WORST_ORDERS = {
    "fever_other_cause": ["yes", "no"],
    "hypotension": ["no", "yes"],
    "vasopressin": ["no", "yes"],
    "consciousness": [
        "alert",
        "awakens_spontaneously",
        "awakens_to_voice",
        "awakens_to_tactile",
        "unarousable",
    ],
    "seizure": ["none", "resolved_rapidly", "prolonged_or_repetitive"],
    "motor_weakness": ["no", "yes"],
    "cerebral_edema": ["none", "focal", "diffuse"],
    "raised_icp_signs": ["no", "yes"],
    "neuro_other_cause": ["yes", "no"],
}


def _worst_sql(column: str) -> str:
    codes = WORST_ORDERS[column]
    rank = " ".join(f"when '{c}' then {i}" for i, c in enumerate(codes))
    back = " ".join(f"when {i} then '{c}'" for i, c in enumerate(codes))
    return f"case max(case {column} {rank} end) {back} end as {column}"


def grading_sql(schema: str = "intermediate") -> str:
    """One statement grading every patient-day; ``schema`` qualifies the input tables
    (``intermediate``, or ``wh.intermediate`` for an attached warehouse)."""
    worst = ",\n        ".join(_worst_sql(c) for c in WORST_ORDERS)
    classes = ", ".join(f"'{c}'" for c in ANTI_CYTOKINE_CLASSES)
    return f"""
with rows as (
    select o.*, o.obs_date - i.infusion_date as study_day,
        case
            when o.oxygen_device in ('cpap', 'bipap', 'mechanical_ventilation') then 4
            when o.oxygen_device in ('high_flow_nasal_cannula', 'facemask', 'non_rebreather',
                'venturi') or (o.oxygen_device = 'nasal_cannula' and o.oxygen_flow_l_min > 6)
                then 3
            when o.oxygen_device in ('nasal_cannula', 'blow_by') then 2
            else 0
        end as hypoxia
    from {schema}.int_daily_observations_accepted o
    join {schema}.int_index_infusions i using (patient_key)
    where o.obs_date - i.infusion_date between 0 and {WINDOW_DAYS}
), days as (
    select patient_key, study_day, min(obs_date) as obs_date, max(tmax_c) as tmax_c,
        max(vasopressor_count) as vasopressor_count, max(hypoxia) as hypoxia,
        min(ice_score) as ice_score, max(capd_score) as capd_score,
        {worst}
    from rows group by patient_key, study_day
), signs as (
    select d.*,
        coalesce(d.tmax_c >= 38.0, false) and coalesce(d.fever_other_cause, 'no') <> 'yes'
            as fever_day,
        greatest(case when vasopressor_count >= 2 then 4
            when vasopressor_count = 1 or vasopressin = 'yes' then 3
            when hypotension = 'yes' then 2 else 0 end, hypoxia) as organ_grade,
        coalesce(t.first_date <= d.obs_date, false) as given,
        coalesce(p.age_at_infusion < 12, false) as is_child
    from days d
    left join (select patient_key, min(admin_date) as first_date
        from {schema}.int_treatments_standardised where drug_class in ({classes})
        group by patient_key) t using (patient_key)
    left join {schema}.int_patients_deduplicated p using (patient_key)
), carriers as (
    select *, fever_day or (organ_grade >= 1 and given) as carry from signs
), islands as (
    select *, study_day - row_number() over (partition by patient_key, carry order by study_day)
        as island
    from carriers
), episodes as (
    select *, min(case when fever_day then study_day end) over (
        partition by patient_key, carry, island) as first_fever
    from islands
), crs as (
    select *, fever_day or (carry and coalesce(first_fever < study_day, false)) as crs_day
    from episodes
)
select patient_key, study_day, fever_day, organ_grade, crs_day,
    not fever_day and given and coalesce(
        lag(study_day) over w = study_day - 1 and lag(crs_day) over w, false) as treated_day,
    case when fever_day then greatest(1, organ_grade) when crs_day then organ_grade else 0 end
        as crs_grade,
    case when neuro_other_cause = 'yes' then 0 else greatest(
        case when is_child then
            case when capd_score is null or capd_score <= 0 then 0 when capd_score >= 9 then 3
                when consciousness = 'awakens_to_voice' then 2 else 1 end
        else
            case when ice_score is null or ice_score >= 10 then 0 when ice_score >= 7 then 1
                when ice_score >= 3 then 2
                when ice_score = 0 and consciousness = 'unarousable' then 4 else 3 end
        end,
        case consciousness when 'awakens_spontaneously' then 1 when 'awakens_to_voice' then 2
            when 'awakens_to_tactile' then 3 when 'unarousable' then 4 else 0 end,
        case seizure when 'resolved_rapidly' then 3 when 'prolonged_or_repetitive' then 4
            else 0 end,
        case when motor_weakness = 'yes' then 4 else 0 end,
        case cerebral_edema when 'focal' then 3 when 'diffuse' then 4 else 0 end,
        case when raised_icp_signs = 'yes' then 4 else 0 end)
    end as icans_grade
from crs
window w as (partition by patient_key order by study_day)
"""


def read_inputs(conn, schema: str = "intermediate") -> dict[str, pd.DataFrame]:
    """The four input tables of the model as DataFrames (not part of the timed grading)."""
    return {
        "observations": conn.sql(
            f"select * exclude (_delivery_id, _source_file, _row_number, _source_day) "
            f"from {schema}.int_daily_observations_accepted"
        ).df(),
        "infusions": conn.sql(
            f"select patient_key, infusion_date from {schema}.int_index_infusions"
        ).df(),
        "patients": conn.sql(
            f"select patient_key, age_at_infusion from {schema}.int_patients_deduplicated"
        ).df(),
        "treatments": conn.sql(
            f"select patient_key, admin_date, drug_class from {schema}.int_treatments_standardised"
        ).df(),
    }


def _grade_by_order(values: pd.Series, cases: list[tuple[object, int]], default: int = 0):
    return values.map(dict(cases)).fillna(default).astype(int)


def grade_pandas(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The daily grades from :func:`read_inputs`' frames, vectorised (no loop over rows)."""
    obs = inputs["observations"].merge(inputs["infusions"], on="patient_key")
    obs["study_day"] = (
        pd.to_datetime(obs["obs_date"]) - pd.to_datetime(obs["infusion_date"])
    ).dt.days
    obs = obs[obs["study_day"].between(0, WINDOW_DAYS)].copy()
    device, flow = obs["oxygen_device"], obs["oxygen_flow_l_min"]
    obs["hypoxia"] = np.select(
        [
            device.isin(["cpap", "bipap", "mechanical_ventilation"]),
            device.isin(["high_flow_nasal_cannula", "facemask", "non_rebreather", "venturi"])
            | ((device == "nasal_cannula") & (flow > 6)),
            device.isin(["nasal_cannula", "blow_by"]),
        ],
        [4, 3, 2],
        0,
    )
    for column, codes in WORST_ORDERS.items():
        obs[column] = obs[column].map({c: i for i, c in enumerate(codes)})
    aggregations = {
        "obs_date": "min",
        "tmax_c": "max",
        "vasopressor_count": "max",
        "hypoxia": "max",
        "ice_score": "min",
        "capd_score": "max",
        **{column: "max" for column in WORST_ORDERS},
    }
    days = obs.groupby(KEY_COLUMNS, as_index=False).agg(aggregations)
    for column, codes in WORST_ORDERS.items():
        days[column] = days[column].map(dict(enumerate(codes)))
    # nullable integers compare to pd.NA; NaN compares False, as a null does in a SQL condition
    for column in ("tmax_c", "vasopressor_count", "ice_score", "capd_score"):
        days[column] = days[column].astype("float64")

    treatments = inputs["treatments"]
    first = (
        treatments[treatments["drug_class"].isin(ANTI_CYTOKINE_CLASSES)]
        .groupby("patient_key", as_index=False)["admin_date"]
        .min()
        .rename(columns={"admin_date": "first_date"})
    )
    days = days.merge(first, on="patient_key", how="left").merge(
        inputs["patients"], on="patient_key", how="left"
    )
    days["fever_day"] = (days["tmax_c"] >= 38.0) & (days["fever_other_cause"] != "yes")
    vasopressors, vasopressin = days["vasopressor_count"], days["vasopressin"]
    hypotension_grade = np.select(
        [
            vasopressors >= 2,
            (vasopressors == 1) | (vasopressin == "yes"),
            days["hypotension"] == "yes",
        ],
        [4, 3, 2],
        0,
    )
    days["organ_grade"] = np.maximum(hypotension_grade, days["hypoxia"])
    given = pd.to_datetime(days["first_date"]) <= pd.to_datetime(days["obs_date"])
    carry = days["fever_day"] | ((days["organ_grade"] >= 1) & given)

    days = days.assign(given=given, carry=carry).sort_values(KEY_COLUMNS, ignore_index=True)
    rank = days.groupby(["patient_key", "carry"]).cumcount() + 1
    days["island"] = days["study_day"] - rank
    fever_study_day = days["study_day"].where(days["fever_day"])
    first_fever = fever_study_day.groupby(
        [days["patient_key"], days["carry"], days["island"]]
    ).transform("min")
    days["crs_day"] = days["fever_day"] | (days["carry"] & (first_fever < days["study_day"]))
    by_patient = days.groupby("patient_key")
    previous_day = by_patient["study_day"].shift()
    previous_crs = by_patient["crs_day"].shift(fill_value=False)
    days["treated_day"] = (
        ~days["fever_day"] & days["given"] & (previous_day == days["study_day"] - 1) & previous_crs
    )
    days["crs_grade"] = np.where(
        days["fever_day"],
        np.maximum(1, days["organ_grade"]),
        np.where(days["crs_day"], days["organ_grade"], 0),
    )

    ice, capd, conscious = days["ice_score"], days["capd_score"], days["consciousness"]
    ice_grade = np.select(
        [
            ice.isna() | (ice >= 10),
            ice >= 7,
            ice >= 3,
            (ice == 0) & (conscious == "unarousable"),
        ],
        [0, 1, 2, 4],
        3,
    )
    capd_grade = np.select(
        [capd.isna() | (capd <= 0), capd >= 9, conscious == "awakens_to_voice"], [0, 3, 2], 1
    )
    is_child = days["age_at_infusion"].astype("float64") < 12
    domains = np.column_stack(
        [
            np.where(is_child, capd_grade, ice_grade),
            _grade_by_order(
                conscious,
                [("awakens_spontaneously", 1), ("awakens_to_voice", 2)]
                + [("awakens_to_tactile", 3), ("unarousable", 4)],
            ),
            _grade_by_order(
                days["seizure"], [("resolved_rapidly", 3), ("prolonged_or_repetitive", 4)]
            ),
            _grade_by_order(days["motor_weakness"], [("yes", 4)]),
            _grade_by_order(days["cerebral_edema"], [("focal", 3), ("diffuse", 4)]),
            _grade_by_order(days["raised_icp_signs"], [("yes", 4)]),
        ]
    )
    days["icans_grade"] = np.where(days["neuro_other_cause"] == "yes", 0, domains.max(axis=1))
    return days[KEY_COLUMNS + GRADE_COLUMNS]


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Keys and grade columns in plain types, sorted: for comparing implementations."""
    out = frame[KEY_COLUMNS + GRADE_COLUMNS].copy()
    for column in ("fever_day", "crs_day", "treated_day"):
        out[column] = out[column].astype(bool)
    for column in ("study_day", "organ_grade", "crs_grade", "icans_grade"):
        out[column] = out[column].astype("int64")
    return out.sort_values(KEY_COLUMNS, ignore_index=True)


def warehouse_grades(conn, schema: str = "intermediate") -> pd.DataFrame:
    """The model's own grade columns, normalised."""
    columns = ", ".join(KEY_COLUMNS + GRADE_COLUMNS)
    return normalised(conn.sql(f"select {columns} from {schema}.int_daily_toxicity_graded").df())


def differences(reference: pd.DataFrame, warehouse: pd.DataFrame) -> str | None:
    """None when the two agree on every key and grade, else a one-line description."""
    reference, warehouse = normalised(reference), warehouse
    if len(reference) != len(warehouse):
        return f"{len(reference)} rows against {len(warehouse)} in the warehouse"
    if not reference[KEY_COLUMNS].equals(warehouse[KEY_COLUMNS]):
        return "different patient-days"
    unequal = [c for c in GRADE_COLUMNS if not reference[c].equals(warehouse[c])]
    return f"columns differ: {', '.join(unequal)}" if unequal else None
