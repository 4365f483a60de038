{#
  CONSORT-style attrition, by centre and overall (centre_code = 'all'), long format.
  Step 1 counts every patient of the current deliveries (any file); steps 3-5 are subsets of
  step 2, step 5 of step 4.
#}
with

delivered as (
    select patient_key, centre_code from {{ ref('patient_crosswalk') }}
),

outcomes as (
    select * from {{ ref('patient_outcomes') }}
),

steps as (
    select * from (values
        (1, 'patients delivered'),
        (2, 'with an index infusion'),
        (3, 'gradable for CRS and ICANS'),
        (4, 'evaluable for day-30 response'),
        (5, 'in CR at day 30')
    ) as steps (step_order, step)
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

final as (
    select
        centres.centre_code,
        steps.step_order,
        steps.step,
        coalesce(counts.n, 0) as n
    from centres
    cross join steps
    left join counts
        on centres.centre_code = counts.centre_code
        and steps.step_order = counts.step_order
)

select * from final
