{#
  Day-30 response per patient with an index infusion (clinical-rules.md, "Response (day 30)").
  Records dated before the index infusion decide nothing: a death or relapse counts as early
  from day 0 only, and a CR assessment dated before day 0 without a CR in the window leaves
  the response unknown (basis cr_before_infusion, excluded from the response analyses: the
  misdated assessment may be the day-30 CR; plausibility_findings queries it to the centre).
#}
with

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

assessments as (
    select * from {{ ref('int_response_assessments_accepted') }}
),

follow_up_events as (
    select * from {{ ref('int_follow_up_events_accepted') }}
),

distinct_assessments as (
    select distinct
        patient_key,
        assessment_date,
        bm_blasts_pct,
        circulating_blasts,
        extramedullary_disease,
        mrd_pct
    from assessments
    where patient_key is not null
        and assessment_date is not null
),

window_assessments as (
    select
        distinct_assessments.*,
        distinct_assessments.assessment_date - index_infusions.infusion_date as study_day,
        {{ assessment_shows_cr('bm_blasts_pct', 'circulating_blasts', 'extramedullary_disease') }}
            as shows_cr
    from distinct_assessments
    inner join index_infusions on distinct_assessments.patient_key = index_infusions.patient_key
    where distinct_assessments.assessment_date - index_infusions.infusion_date
        between {{ var('response_window_first_day') }} and {{ var('response_window_last_day') }}
),

cr_before_infusion as (
    select distinct distinct_assessments.patient_key
    from distinct_assessments
    inner join index_infusions on distinct_assessments.patient_key = index_infusions.patient_key
    where distinct_assessments.assessment_date < index_infusions.infusion_date
        and {{ assessment_shows_cr('bm_blasts_pct', 'circulating_blasts', 'extramedullary_disease') }}
),

assessment_summary as (
    select
        patient_key,
        count(*) as n_window_assessments,
        bool_or(shows_cr) as any_cr,
        min(study_day) filter (where shows_cr) as cr_day,
        min(assessment_date) filter (where shows_cr) as cr_date,
        coalesce(bool_or({{ mrd_negative('mrd_pct') }}) filter (where shows_cr), false)
            as any_mrd_negative_cr,
        coalesce(bool_or(mrd_pct is not null) filter (where shows_cr), false)
            as any_cr_mrd_measured
    from window_assessments
    group by patient_key
),

early_events as (
    select
        follow_up_events.patient_key,
        bool_or(
            follow_up_events.event_type = 'death'
            and follow_up_events.event_date - index_infusions.infusion_date
                between 0 and {{ var('response_window_first_day') }} - 1
        ) as died_before_window,
        bool_or(
            follow_up_events.event_type = 'relapse'
            and follow_up_events.event_date - index_infusions.infusion_date
                between 0 and {{ var('response_window_first_day') }} - 1
        ) as relapsed_before_window
    from follow_up_events
    inner join index_infusions on follow_up_events.patient_key = index_infusions.patient_key
    group by follow_up_events.patient_key
),

combined as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        index_infusions.infusion_date,
        coalesce(assessment_summary.n_window_assessments, 0) as n_window_assessments,
        assessment_summary.any_cr,
        assessment_summary.cr_day,
        assessment_summary.cr_date,
        assessment_summary.any_mrd_negative_cr,
        assessment_summary.any_cr_mrd_measured,
        coalesce(early_events.died_before_window, false) as died_before_window,
        coalesce(early_events.relapsed_before_window, false) as relapsed_before_window,
        cr_before_infusion.patient_key is not null as cr_before_infusion
    from index_infusions
    left join assessment_summary on index_infusions.patient_key = assessment_summary.patient_key
    left join early_events on index_infusions.patient_key = early_events.patient_key
    left join cr_before_infusion on index_infusions.patient_key = cr_before_infusion.patient_key
),

classified as (
    select
        *,
        case
            when n_window_assessments > 0 and any_cr then 'assessment'
            when cr_before_infusion then 'cr_before_infusion'
            when n_window_assessments > 0 then 'assessment'
            when died_before_window then 'early_death'
            when relapsed_before_window then 'early_relapse'
            else 'not_evaluable'
        end as response_basis
    from combined
),

final as (
    select
        patient_key,
        centre_code,
        response_basis,
        n_window_assessments,
        response_basis not in ('not_evaluable', 'cr_before_infusion') as response_evaluable,
        case
            when response_basis = 'assessment' then any_cr
            when response_basis in ('early_death', 'early_relapse') then false
        end as cr_day30,
        case when response_basis = 'assessment' and any_cr then cr_day end as cr_day,
        case
            when response_basis = 'assessment' and any_cr then cr_date
        end as cr_date,
        case
            when response_basis = 'assessment' then any_cr and any_mrd_negative_cr
            when response_basis in ('early_death', 'early_relapse') then false
        end as mrd_negative_cr,
        case
            when response_basis = 'assessment' and any_cr then not any_cr_mrd_measured
        end as mrd_not_measured
    from classified
)

select * from final
