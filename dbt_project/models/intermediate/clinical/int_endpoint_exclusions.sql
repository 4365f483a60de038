{#
  Endpoints a patient is excluded from because an event is dated before its clock starts
  (clinical-rules.md, "Survival endpoints": a survival time is never negative). One row per
  patient and excluded endpoint, with the reason (macro endpoint_exclusion_reasons; the
  events themselves are plausibility findings queried back to the centre):
  OS: a death dated before the index infusion (day < 0; day 0 is allowed).
  LFS (patients with a CR date): a relapse or death dated before the CR date — before the
  index infusion (reason 1) or from day 0 on but before the CR date (reason 2).
  response: a CR assessment dated before the index infusion and no CR in the response window
  (int_response_evaluated, basis cr_before_infusion).
#}
with

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

responses as (
    select patient_key, response_basis, cr_date from {{ ref('int_response_evaluated') }}
),

events as (
    select patient_key, event_type, event_date
    from {{ ref('int_follow_up_events_accepted') }}
    where event_type in ('death', 'relapse')
        and patient_key is not null
        and event_date is not null
),

reasons as (
    select * from {{ endpoint_exclusion_reason_rows() }}
),

os_excluded as (
    select distinct index_infusions.patient_key, index_infusions.centre_code,
        'death_before_infusion' as reason_code
    from index_infusions
    inner join events on index_infusions.patient_key = events.patient_key
    where events.event_type = 'death'
        and events.event_date < index_infusions.infusion_date
),

lfs_excluded as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        case
            when min(events.event_date) < index_infusions.infusion_date
                then 'event_before_infusion'
            else 'event_before_cr'
        end as reason_code
    from index_infusions
    inner join responses on index_infusions.patient_key = responses.patient_key
    inner join events on index_infusions.patient_key = events.patient_key
    where events.event_date < responses.cr_date
    group by index_infusions.patient_key, index_infusions.centre_code, index_infusions.infusion_date
),

response_excluded as (
    select index_infusions.patient_key, index_infusions.centre_code,
        'cr_before_infusion' as reason_code
    from index_infusions
    inner join responses on index_infusions.patient_key = responses.patient_key
    where responses.response_basis = 'cr_before_infusion'
),

excluded as (
    select * from os_excluded
    union all
    select * from lfs_excluded
    union all
    select * from response_excluded
),

final as (
    select
        excluded.patient_key,
        excluded.centre_code,
        reasons.endpoint,
        reasons.step_order,
        reasons.reason_order,
        excluded.reason_code,
        reasons.reason
    from excluded
    inner join reasons on excluded.reason_code = reasons.reason_code
)

select * from final
