{#
  Counting-process data (R: tmerge(..., event(time, event)) then tmerge(..., tdc(onset)) for
  each exposure): one row per patient, endpoint of time_to_event and interval (tstart, tstop]
  of its follow-up, split at the onset of every time-varying exposure, set-wise.

  Times are days from the endpoint's origin (day 0 for OS, the CR day for LFS). An exposure's
  onset relative to the origin is its study day minus the origin's: at or before the origin
  (LFS: steroids started before the CR date) it is exposed from the start; after the end of
  follow-up it never counts. An onset on the last day of follow-up is moved half a day earlier
  so that it counts as exposed at the event without a zero-length interval (survival's
  "timedep" vignette; analysis_assets.time_dependent.SAME_DAY_SHIFT). An interval is exposed
  when the (moved) onset is at or before its tstart. The exposures, their onset days and
  whether each is known are patient_exposures'.
#}
{% set exposures = robustness_exposures() %}
{% set same_day_shift = 0.5 %}

with

endpoints as (
    select
        patient_key,
        centre_code,
        paramcd,
        start_day,
        aval_days,
        cnsr = 0 as has_event
    from {{ ref('time_to_event') }}
    -- (0, 0] is not an interval: a death on day 0 has no counting-process row
    where aval_days > 0
),

patient_exposures as (
    -- per exposure its onset study day (null: never, or at an unknown day) and whether it is
    -- known: the one definition of the exposures (patient_exposures)
    select * from {{ ref('patient_exposures') }}
),

relative_onsets as (
    select
        endpoints.*,
        {% for exposure in exposures %}
        patient_exposures.{{ exposure }}_onset_known as {{ exposure }}_known,
        case
            when patient_exposures.{{ exposure }}_onset_day - endpoints.start_day
                = endpoints.aval_days
                then endpoints.aval_days - {{ same_day_shift }}
            else patient_exposures.{{ exposure }}_onset_day - endpoints.start_day
        end::double as {{ exposure }}_onset{{ "," if not loop.last }}
        {% endfor %}
    from endpoints
    inner join patient_exposures on endpoints.patient_key = patient_exposures.patient_key
),

split_points as (
    select patient_key, paramcd, 0.0::double as point from relative_onsets
    union
    select patient_key, paramcd, aval_days::double from relative_onsets
    {% for exposure in exposures %}
    union
    select patient_key, paramcd, {{ exposure }}_onset
    from relative_onsets
    where {{ exposure }}_onset > 0 and {{ exposure }}_onset < aval_days
    {% endfor %}
),

intervals as (
    select
        patient_key,
        paramcd,
        point as tstart,
        lead(point) over (partition by patient_key, paramcd order by point) as tstop,
        row_number() over (partition by patient_key, paramcd order by point) as interval_number
    from split_points
),

final as (
    select
        relative_onsets.patient_key,
        relative_onsets.centre_code,
        relative_onsets.paramcd,
        intervals.interval_number,
        intervals.tstart,
        intervals.tstop,
        (relative_onsets.has_event and intervals.tstop = relative_onsets.aval_days)::integer
            as event,
        {% for exposure in exposures %}
        case
            when not relative_onsets.{{ exposure }}_known then null
            when relative_onsets.{{ exposure }}_onset is null then 0
            else (relative_onsets.{{ exposure }}_onset <= intervals.tstart)::integer
        end as {{ exposure }}{{ "," if not loop.last }}
        {% endfor %}
    from intervals
    inner join relative_onsets
        on intervals.patient_key = relative_onsets.patient_key
        and intervals.paramcd = relative_onsets.paramcd
    where intervals.tstop is not null
)

select * from final
