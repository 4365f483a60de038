{#
  The gaps-and-islands CRS-day formulation of int_daily_toxicity_graded must equal the
  recursive definition of clinical-rules.md: a day is a CRS day when it is a fever day, or when
  the previous calendar day was (observed and) a CRS day, anti-cytokine therapy was given on or
  before the day and the organ grade is >= 1. Returns the days where the two disagree.
#}
with recursive

graded as (
    select * from {{ ref('int_daily_toxicity_graded') }}
),

chain (patient_key, study_day, crs_day) as (
    select graded.patient_key, graded.study_day, graded.fever_day
    from graded
    where not exists (
        select 1 from graded as previous
        where previous.patient_key = graded.patient_key
            and previous.study_day = graded.study_day - 1
    )
    union all
    select
        graded.patient_key,
        graded.study_day,
        graded.fever_day
            or (chain.crs_day and graded.anti_cytokine_given and graded.organ_grade >= 1)
    from chain
    inner join graded
        on graded.patient_key = chain.patient_key
        and graded.study_day = chain.study_day + 1
)

select
    graded.patient_key,
    graded.study_day,
    graded.crs_day as islands_crs_day,
    chain.crs_day as recursive_crs_day
from graded
left join chain
    on graded.patient_key = chain.patient_key
    and graded.study_day = chain.study_day
where chain.crs_day is distinct from graded.crs_day
