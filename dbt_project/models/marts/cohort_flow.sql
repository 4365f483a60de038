{#
  CONSORT-style cohort flow, by centre and overall (centre_code = 'all'): one row per step, each
  step a subset of its parent step (parent_step_order), with the patients of the parent left
  out of it (excluded_n = parent n - n) and why (excluded_reason). Step 1 counts every patient
  of the current deliveries (any file); 2 has an index infusion; 3 (toxicity analyses), 4
  (response analyses) and 6 (OS analyses) are subsets of 2, not of each other; 5 (in CR at
  day 30) is a subset of 4, and 7 (LFS analyses) of 5. Steps 6 and 7 (and part of 4) leave out
  the endpoints excluded because an event is dated before its clock starts
  (int_endpoint_exclusions, queried to the centres): never a negative time.
#}
with

delivered as (
    select patient_key, centre_code from {{ ref('patient_crosswalk') }}
),

outcomes as (
    select * from {{ ref('patient_outcomes') }}
),

excluded_endpoints as (
    select * from {{ ref('int_endpoint_exclusions') }}
),

steps as (
    select * from (values
        (1, 'patients delivered', cast(null as integer), cast(null as varchar),
            cast(null as varchar)),
        (2, 'with an index infusion', 1, null,
            'not infused: no index infusion (infusion number 1 with a date)'),
        (3, 'gradable for CRS and ICANS', 2, 'toxicity analyses',
            'not gradable: a CRS or ICANS grade is missing (no observed day in the toxicity '
            || 'window and no ASTCT grade reported)'),
        (4, 'evaluable for day-30 response', 2, 'response analyses',
            'not evaluable: no response assessment on days '
            || '{{ var("response_window_first_day") }}–{{ var("response_window_last_day") }}'
            || ' and no death or relapse before day {{ var("response_window_first_day") }}'
            || ', or a CR assessment dated before the index infusion and no CR in the window'
            || ' (queried to the centre)'),
        (5, 'in CR at day 30', 4, null,
            'not in CR at day 30: no CR on an assessment of days '
            || '{{ var("response_window_first_day") }}–{{ var("response_window_last_day") }}'
            || ', or death or relapse before day {{ var("response_window_first_day") }}'),
        (6, 'with a plausible OS time', 2, 'overall survival analyses',
            'OS excluded: a death dated before the index infusion (queried to the centre)'),
        (7, 'with a plausible LFS time', 5, 'leukaemia-free survival analyses',
            'LFS excluded: a relapse or death dated before the CR date (queried to the centre)')
    ) as steps (step_order, step, parent_step_order, analysis_population, excluded_reason)
),

patient_steps as (
    select centre_code, 1 as step_order, patient_key from delivered
    union all
    select centre_code, 2, patient_key from outcomes
    union all
    select centre_code, 3, patient_key from outcomes where toxicity_gradable
    union all
    select centre_code, 4, patient_key from outcomes where response_evaluable
    union all
    select centre_code, 5, patient_key from outcomes where cr_day30
    union all
    select centre_code, 6, patient_key from outcomes
    where patient_key not in (
        select patient_key from excluded_endpoints where endpoint = 'OS'
    )
    union all
    select centre_code, 7, patient_key from outcomes
    where cr_day30 and patient_key not in (
        select patient_key from excluded_endpoints where endpoint = 'LFS'
    )
),

centres as (
    select distinct centre_code from delivered
    union all
    select 'all'
),

counts as (
    select centre_code, step_order, count(distinct patient_key) as n
    from patient_steps
    group by centre_code, step_order
    union all
    select 'all', step_order, count(distinct patient_key)
    from patient_steps
    group by step_order
),

step_counts as (
    select
        centres.centre_code,
        steps.step_order,
        steps.step,
        coalesce(counts.n, 0) as n,
        steps.parent_step_order,
        steps.analysis_population,
        steps.excluded_reason
    from centres
    cross join steps
    left join counts
        on centres.centre_code = counts.centre_code
        and steps.step_order = counts.step_order
),

final as (
    select
        step_counts.centre_code,
        step_counts.step_order,
        step_counts.step,
        step_counts.n,
        step_counts.parent_step_order,
        step_counts.analysis_population,
        parents.n - step_counts.n as excluded_n,
        step_counts.excluded_reason
    from step_counts
    left join step_counts as parents
        on step_counts.centre_code = parents.centre_code
        and step_counts.parent_step_order = parents.step_order
)

select * from final
