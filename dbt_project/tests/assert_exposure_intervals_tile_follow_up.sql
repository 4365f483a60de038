{#
  The intervals of each patient and endpoint tile its follow-up exactly: the first starts at
  0, each next one starts where the previous one stopped (no gap, no overlap), the last stops
  at time_to_event.aval_days, at most one interval has the event and it is the last one, with
  the endpoint's event status; an exposure never switches off; every time_to_event row with a
  positive time has intervals. Checked against time_to_event, independently of how the model
  splits.
#}
with intervals as (
    select
        *,
        lag(tstop) over (partition by patient_key, paramcd order by tstart) as previous_tstop,
        lag(crs) over (partition by patient_key, paramcd order by tstart) as previous_crs,
        lag(icans) over (partition by patient_key, paramcd order by tstart) as previous_icans,
        lag(grade_3_plus) over (partition by patient_key, paramcd order by tstart)
            as previous_grade_3_plus,
        lag(steroids) over (partition by patient_key, paramcd order by tstart)
            as previous_steroids,
        lag(tocilizumab) over (partition by patient_key, paramcd order by tstart)
            as previous_tocilizumab
    from {{ ref('exposure_intervals') }}
),

per_endpoint as (
    select
        patient_key,
        paramcd,
        min(tstart) as first_tstart,
        max(tstop) as last_tstop,
        sum(event) as events,
        max(case when event = 1 then tstop end) as event_tstop,
        bool_and(previous_tstop is null or previous_tstop = tstart) as contiguous,
        bool_and(
            coalesce(previous_crs <= crs, true)
            and coalesce(previous_icans <= icans, true)
            and coalesce(previous_grade_3_plus <= grade_3_plus, true)
            and coalesce(previous_steroids <= steroids, true)
            and coalesce(previous_tocilizumab <= tocilizumab, true)
        ) as exposures_never_switch_off
    from intervals
    group by patient_key, paramcd
),

endpoints as (
    select patient_key, paramcd, aval_days, cnsr
    from {{ ref('time_to_event') }}
    where aval_days > 0
)

select
    endpoints.patient_key,
    endpoints.paramcd,
    endpoints.aval_days,
    endpoints.cnsr,
    per_endpoint.first_tstart,
    per_endpoint.last_tstop,
    per_endpoint.events,
    per_endpoint.contiguous,
    per_endpoint.exposures_never_switch_off
from endpoints
full outer join per_endpoint
    on endpoints.patient_key = per_endpoint.patient_key
    and endpoints.paramcd = per_endpoint.paramcd
where endpoints.patient_key is null
    or per_endpoint.patient_key is null
    or per_endpoint.first_tstart <> 0
    or per_endpoint.last_tstop <> endpoints.aval_days
    or per_endpoint.events <> (endpoints.cnsr = 0)::integer
    or (per_endpoint.events = 1 and per_endpoint.event_tstop <> endpoints.aval_days)
    or not per_endpoint.contiguous
    or not per_endpoint.exposures_never_switch_off
