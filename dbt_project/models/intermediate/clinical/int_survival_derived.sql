{#
  Survival endpoints per patient with an index infusion (clinical-rules.md, "Survival
  endpoints"): OS from day 0, LFS from the CR date for CR patients, each also censored at
  allogeneic HSCT for the sensitivity analysis. Censoring reasons: 0 = event, 1 = alive at
  last contact (censored at the last date known alive), 2 = administrative cut-off (a death,
  relapse or any record dated after the cut-off: known alive at the cut-off),
  3 = censored at allogeneic HSCT (HSCT-censored variants only). An endpoint excluded in
  int_endpoint_exclusions (an event dated before its clock starts, queried to the centre) is
  left empty, never a negative time: OS and its HSCT-censored variant for a death dated before
  the infusion, LFS and its variant for a relapse or death dated before the CR date.
#}
with

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

last_known_alive as (
    select * from {{ ref('int_last_known_alive') }}
),

responses as (
    select patient_key, cr_day30, cr_date from {{ ref('int_response_evaluated') }}
),

excluded_endpoints as (
    select
        patient_key,
        bool_or(endpoint = 'OS') as os_excluded,
        bool_or(endpoint = 'LFS') as lfs_excluded
    from {{ ref('int_endpoint_exclusions') }}
    group by patient_key
),

follow_up_events as (
    select * from {{ ref('int_follow_up_events_accepted') }}
    where patient_key is not null
        and event_date is not null
),

patients as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        index_infusions.infusion_date,
        {{ cutoff_date() }} as cutoff_date,
        coalesce(last_known_alive.last_known_alive_date, index_infusions.infusion_date)
            as last_known_alive_date,
        coalesce(responses.cr_day30, false) as in_cr,
        responses.cr_date,
        coalesce(excluded_endpoints.os_excluded, false) as os_excluded,
        coalesce(excluded_endpoints.lfs_excluded, false) as lfs_excluded
    from index_infusions
    left join last_known_alive on index_infusions.patient_key = last_known_alive.patient_key
    left join responses on index_infusions.patient_key = responses.patient_key
    left join excluded_endpoints on index_infusions.patient_key = excluded_endpoints.patient_key
),

patient_events as (
    select
        patients.patient_key,
        min(follow_up_events.event_date) filter (where follow_up_events.event_type = 'death')
            as death_date,
        first(
            follow_up_events.death_cause
            order by follow_up_events.event_date, follow_up_events.death_cause nulls last
        ) filter (where follow_up_events.event_type = 'death') as first_death_cause,
        min(follow_up_events.event_date) filter (
            where follow_up_events.event_type = 'relapse'
                and follow_up_events.event_date >= patients.cr_date
        ) as relapse_after_cr_date,
        min(follow_up_events.event_date) filter (
            where follow_up_events.event_type = 'allo_hsct'
                and follow_up_events.event_date >= patients.infusion_date
                and follow_up_events.event_date <= patients.cutoff_date
        ) as allo_hsct_date
    from patients
    inner join follow_up_events on patients.patient_key = follow_up_events.patient_key
    group by patients.patient_key
),

combined as (
    select
        patients.*,
        patient_events.death_date,
        patient_events.first_death_cause,
        patient_events.relapse_after_cr_date,
        patient_events.allo_hsct_date,
        coalesce(patient_events.death_date > patients.cutoff_date, false)
            or patients.last_known_alive_date > patients.cutoff_date as known_alive_at_cutoff,
        patients.infusion_date <= patients.cutoff_date as followed_at_cutoff,
        patients.in_cr and patients.cr_date <= patients.cutoff_date as lfs_defined
    from patients
    left join patient_events on patients.patient_key = patient_events.patient_key
),

overall_survival as (
    select
        *,
        case
            when not followed_at_cutoff or os_excluded then null
            when death_date <= cutoff_date then 0
            when known_alive_at_cutoff then 2
            else 1
        end as os_censor_reason,
        case
            when not followed_at_cutoff or os_excluded then null
            when death_date <= cutoff_date then death_date
            when known_alive_at_cutoff then cutoff_date
            else last_known_alive_date
        end as os_end_date,
        least(relapse_after_cr_date, death_date) as lfs_event_date
    from combined
),

leukaemia_free_survival as (
    select
        *,
        case
            when not lfs_defined or lfs_excluded then null
            when lfs_event_date <= cutoff_date then 0
            when known_alive_at_cutoff then 2
            else 1
        end as lfs_censor_reason,
        case
            when not lfs_defined or lfs_excluded then null
            when lfs_event_date <= cutoff_date then lfs_event_date
            when known_alive_at_cutoff then cutoff_date
            else greatest(last_known_alive_date, cr_date)
        end as lfs_end_date
    from overall_survival
),

hsct_censored as (
    select
        *,
        coalesce(allo_hsct_date < os_end_date, false) as os_censored_at_hsct,
        coalesce(allo_hsct_date < lfs_end_date, false) as lfs_censored_at_hsct
    from leukaemia_free_survival
),

final as (
    select
        patient_key,
        centre_code,
        infusion_date,
        cutoff_date,
        last_known_alive_date,
        known_alive_at_cutoff,
        death_date,
        death_date - infusion_date as death_day,
        case when os_censor_reason = 0 then first_death_cause end as death_cause,
        -- overall survival
        os_end_date,
        os_end_date - infusion_date as os_days,
        {{ days_to_months('os_end_date - infusion_date') }} as os_months,
        case when os_censor_reason = 0 then 1 when os_censor_reason > 0 then 0 end as os_event,
        os_censor_reason,
        -- leukaemia-free survival (CR patients, from the CR date)
        lfs_defined,
        cr_date,
        lfs_end_date,
        lfs_end_date - cr_date as lfs_days,
        {{ days_to_months('lfs_end_date - cr_date') }} as lfs_months,
        case when lfs_censor_reason = 0 then 1 when lfs_censor_reason > 0 then 0 end as lfs_event,
        case
            when lfs_censor_reason = 0 and lfs_event_date = relapse_after_cr_date then 'relapse'
            when lfs_censor_reason = 0 then 'death'
        end as lfs_event_type,
        lfs_censor_reason,
        -- allogeneic HSCT after CAR-T (recorded; censoring only in the sensitivity variants)
        allo_hsct_date is not null as allo_hsct_after,
        allo_hsct_date,
        allo_hsct_date - infusion_date as allo_hsct_day,
        case when os_censored_at_hsct then allo_hsct_date else os_end_date end
            - infusion_date as os_hsct_censored_days,
        {{ days_to_months(
            '(case when os_censored_at_hsct then allo_hsct_date else os_end_date end)'
            ~ ' - infusion_date') }} as os_hsct_censored_months,
        case
            when os_censored_at_hsct then 0
            when os_censor_reason = 0 then 1
            when os_censor_reason > 0 then 0
        end as os_hsct_censored_event,
        case when os_censored_at_hsct then 3 else os_censor_reason end
            as os_hsct_censored_reason,
        case
            when lfs_censored_at_hsct then greatest(allo_hsct_date, cr_date)
            else lfs_end_date
        end - cr_date as lfs_hsct_censored_days,
        {{ days_to_months(
            '(case when lfs_censored_at_hsct then greatest(allo_hsct_date, cr_date)'
            ~ ' else lfs_end_date end) - cr_date') }} as lfs_hsct_censored_months,
        case
            when lfs_censored_at_hsct then 0
            when lfs_censor_reason = 0 then 1
            when lfs_censor_reason > 0 then 0
        end as lfs_hsct_censored_event,
        case when lfs_censored_at_hsct then 3 else lfs_censor_reason end
            as lfs_hsct_censored_reason
    from hsct_censored
)

select * from final
