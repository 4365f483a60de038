{#
  The last date each patient is known alive: the latest date of any record of the patient in
  any file of the current deliveries (infusions, daily observations, labs, kinetics,
  treatments, response assessments, follow-up events other than death). Death records are
  left out (a death is not a sign of life); int_survival_derived treats a death dated after
  the cut-off as "known alive at the cut-off". Dates are not truncated at the cut-off here.
#}
with

infusions as (
    select patient_key, infusion_date as record_date, 'infusions' as source_entity
    from {{ ref('int_infusions_accepted') }}
),

daily_observations as (
    select patient_key, obs_date as record_date, 'daily_observations' as source_entity
    from {{ ref('int_daily_observations_accepted') }}
),

labs as (
    select patient_key, sample_date as record_date, 'labs' as source_entity
    from {{ ref('int_labs_accepted') }}
),

car_t_kinetics as (
    select patient_key, sample_date as record_date, 'car_t_kinetics' as source_entity
    from {{ ref('int_car_t_kinetics_accepted') }}
),

treatments as (
    select patient_key, admin_date as record_date, 'treatments' as source_entity
    from {{ ref('int_treatments_accepted') }}
),

response_assessments as (
    select patient_key, assessment_date as record_date, 'response_assessments' as source_entity
    from {{ ref('int_response_assessments_accepted') }}
),

follow_up_events as (
    select patient_key, event_date as record_date, 'follow_up_events' as source_entity
    from {{ ref('int_follow_up_events_accepted') }}
    where event_type is distinct from 'death'
),

records as (
    select * from infusions
    union all select * from daily_observations
    union all select * from labs
    union all select * from car_t_kinetics
    union all select * from treatments
    union all select * from response_assessments
    union all select * from follow_up_events
),

ranked as (
    select
        patient_key,
        record_date,
        source_entity,
        row_number() over (
            partition by patient_key order by record_date desc, source_entity
        ) as recency_rank
    from records
    where patient_key is not null
        and record_date is not null
),

final as (
    select
        patient_key,
        record_date as last_known_alive_date,
        source_entity as last_known_alive_source
    from ranked
    where recency_rank = 1
)

select * from final
