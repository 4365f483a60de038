{#
  Why the steps of cohort_flow leave patients out: the excluded_n of each centre's step split
  by reason (centre_code 'all' for the whole consortium). Every centre has every reason of
  every step (0 when none). The endpoints excluded because an event is dated before its clock
  starts (int_endpoint_exclusions: step 4 reason 2, steps 6 and 7) have their reasons and the
  endpoint each takes away (dated_before_clock_endpoint) from the macro
  endpoint_exclusion_reasons.
#}
with

delivered as (
    select distinct patient_key, centre_code from {{ ref('patient_crosswalk') }}
),

outcomes as (
    select * from {{ ref('patient_outcomes') }}
),

excluded_endpoints as (
    select * from {{ ref('int_endpoint_exclusions') }}
),

reasons as (
    -- dated_before_clock_endpoint: the endpoint that an event dated before its clock starts
    -- takes away (macro endpoint_exclusion_reasons), null for the other reasons
    select *, null::varchar as dated_before_clock_endpoint from (values
        (2, 1, 'no index infusion delivered'),
        (3, 1, 'CRS and ICANS grades missing'),
        (3, 2, 'CRS grade missing, ICANS below grade 3'),
        (3, 3, 'ICANS grade missing, CRS below grade 3'),
        (4, 1, 'no assessment on days {{ var("response_window_first_day") }}–'
            || '{{ var("response_window_last_day") }}, no death or relapse before day '
            || '{{ var("response_window_first_day") }}'),
        (5, 1, 'no CR on an assessment of days {{ var("response_window_first_day") }}–'
            || '{{ var("response_window_last_day") }}'),
        (5, 2, 'died before day {{ var("response_window_first_day") }}'),
        (5, 3, 'relapsed before day {{ var("response_window_first_day") }}')
    ) as reasons (step_order, reason_order, reason)
    union all
    select step_order, reason_order, reason, endpoint
    from {{ endpoint_exclusion_reason_rows() }}
),

patient_reasons as (
    select delivered.centre_code, 2 as step_order, 1 as reason_order, delivered.patient_key
    from delivered
    anti join outcomes on delivered.patient_key = outcomes.patient_key
    union all
    select
        centre_code,
        3,
        case
            when crs_max_grade is null and icans_max_grade is null then 1
            when crs_max_grade is null then 2
            else 3
        end,
        patient_key
    from outcomes
    where not toxicity_gradable
    union all
    select centre_code, 4, case response_basis when 'cr_before_infusion' then 2 else 1 end, patient_key
    from outcomes
    where not coalesce(response_evaluable, false)
    union all
    select
        centre_code,
        5,
        case response_basis
            when 'assessment' then 1
            when 'early_death' then 2
            when 'early_relapse' then 3
        end,
        patient_key
    from outcomes
    where response_evaluable and not coalesce(cr_day30, false)
    union all
    select excluded_endpoints.centre_code, excluded_endpoints.step_order,
        excluded_endpoints.reason_order, excluded_endpoints.patient_key
    from excluded_endpoints
    inner join outcomes on excluded_endpoints.patient_key = outcomes.patient_key
    where excluded_endpoints.step_order > 4
        and (excluded_endpoints.endpoint <> 'LFS' or outcomes.cr_day30)
),

centres as (
    select distinct centre_code from delivered
    union all
    select 'all'
),

counts as (
    select centre_code, step_order, reason_order, count(distinct patient_key) as n
    from patient_reasons
    group by centre_code, step_order, reason_order
    union all
    select 'all', step_order, reason_order, count(distinct patient_key)
    from patient_reasons
    group by step_order, reason_order
),

final as (
    select
        centres.centre_code,
        reasons.step_order,
        reasons.reason_order,
        reasons.reason,
        reasons.dated_before_clock_endpoint,
        coalesce(counts.n, 0) as n
    from centres
    cross join reasons
    left join counts
        on centres.centre_code = counts.centre_code
        and reasons.step_order = counts.step_order
        and reasons.reason_order = counts.reason_order
)

select * from final
