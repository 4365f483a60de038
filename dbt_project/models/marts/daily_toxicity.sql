{# One row per patient and observed study day of the toxicity window; no calendar dates. #}
with

graded as (
    select * from {{ ref('int_daily_toxicity_graded') }}
),

final as (
    select
        patient_key,
        centre_code,
        study_day,
        n_source_rows,
        tmax_c,
        fever_day,
        treated_day,
        crs_day,
        organ_grade,
        crs_grade,
        crs_driver,
        encephalopathy_score_used,
        icans_grade,
        icans_driver
    from graded
)

select * from final
