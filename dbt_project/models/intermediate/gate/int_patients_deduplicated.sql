{#
  One row per patient_key from the patients file. Exact duplicate rows collapse; when a patient
  has several different rows, the first delivered row (source file, row number) is kept and
  the patient is flagged (has_conflicting_rows), a quality finding.
#}
with

patients as (
    select * from {{ ref('int_patients_accepted') }}
    where patient_key is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by patient_key order by _source_file, _row_number, _source_day
        ) as row_rank,
        count(*) over (partition by patient_key) as n_source_rows
    from patients
),

distinct_versions as (
    select
        patient_key,
        count(*) as n_distinct_rows
    from (
        select distinct
            patient_key, sex, diagnosis_date, ph_status, prior_therapy_lines, relapse_count,
            disease_status, prior_hsct, bm_blasts_pct_pre, extramedullary_pre, weight_kg,
            reported_crs_grade, reported_icans_grade, reported_grading_system
        from patients
    )
    group by patient_key
),

final as (
    select
        ranked.patient_key,
        ranked.centre_code,
        ranked.sex,
        ranked.diagnosis_date,
        ranked.ph_status,
        ranked.prior_therapy_lines,
        ranked.relapse_count,
        ranked.disease_status,
        ranked.prior_hsct,
        ranked.bm_blasts_pct_pre,
        ranked.extramedullary_pre,
        ranked.weight_kg,
        ranked.reported_crs_grade,
        ranked.reported_icans_grade,
        ranked.reported_grading_system,
        ranked.age_at_infusion,
        ranked.n_source_rows,
        distinct_versions.n_distinct_rows > 1 as has_conflicting_rows
    from ranked
    inner join distinct_versions on ranked.patient_key = distinct_versions.patient_key
    where ranked.row_rank = 1
)

select * from final
