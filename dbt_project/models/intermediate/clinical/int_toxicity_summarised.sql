{#
  Patient-level CRS and ICANS (clinical-rules.md, "Patient-level toxicity"), one row per
  patient with an index infusion.
#}
with

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

daily as (
    select * from {{ ref('int_daily_toxicity_graded') }}
),

patients as (
    select
        patient_key,
        reported_crs_grade,
        reported_icans_grade,
        reported_grading_system
    from {{ ref('int_patients_deduplicated') }}
),

follow_up_events as (
    select * from {{ ref('int_follow_up_events_accepted') }}
),

deaths as (
    select
        follow_up_events.patient_key,
        min(follow_up_events.event_date - index_infusions.infusion_date) as death_day,
        coalesce(bool_or(follow_up_events.death_cause = 'crs'), false) as died_of_crs,
        coalesce(bool_or(follow_up_events.death_cause = 'icans'), false) as died_of_icans
    from follow_up_events
    inner join index_infusions on follow_up_events.patient_key = index_infusions.patient_key
    where follow_up_events.event_type = 'death'
    group by follow_up_events.patient_key
),

daily_summary as (
    select
        patient_key,
        count(*) as observed_days_in_window,
        max(crs_grade) as crs_daily_max_grade,
        min(case when crs_grade >= 1 then study_day end) as crs_onset_day,
        count(*) filter (where crs_grade >= 1) as crs_duration_days,
        min(case when crs_grade >= 3 then study_day end) as severe_crs_onset_day,
        max(icans_grade) as icans_daily_max_grade,
        min(case when icans_grade >= 1 then study_day end) as icans_onset_day,
        count(*) filter (where icans_grade >= 1) as icans_duration_days,
        min(case when icans_grade >= 3 or icans_seizure then study_day end)
            as severe_icans_onset_day,
        bool_or(icans_seizure) as any_icans_seizure
    from daily
    group by patient_key
),

combined as (
    select
        index_infusions.patient_key,
        index_infusions.centre_code,
        coalesce(daily_summary.observed_days_in_window, 0) as observed_days_in_window,
        daily_summary.crs_daily_max_grade,
        daily_summary.crs_onset_day,
        daily_summary.crs_duration_days,
        daily_summary.severe_crs_onset_day,
        daily_summary.icans_daily_max_grade,
        daily_summary.icans_onset_day,
        daily_summary.icans_duration_days,
        daily_summary.severe_icans_onset_day,
        coalesce(daily_summary.any_icans_seizure, false) as any_icans_seizure,
        deaths.death_day,
        coalesce(deaths.died_of_crs, false) as died_of_crs,
        coalesce(deaths.died_of_icans, false) as died_of_icans,
        patients.reported_crs_grade,
        patients.reported_icans_grade,
        patients.reported_grading_system,
        patients.reported_grading_system = 'astct2019' as reported_grades_usable
    from index_infusions
    left join daily_summary on index_infusions.patient_key = daily_summary.patient_key
    left join deaths on index_infusions.patient_key = deaths.patient_key
    left join patients on index_infusions.patient_key = patients.patient_key
),

graded as (
    select
        *,
        -- derived from the daily observations (with grade 5 for a death): concordance input
        case
            when observed_days_in_window > 0
                then greatest(crs_daily_max_grade, case when died_of_crs then 5 else 0 end)
        end as crs_derived_grade,
        case
            when observed_days_in_window > 0
                then greatest(icans_daily_max_grade, case when died_of_icans then 5 else 0 end)
        end as icans_derived_grade,
        case
            when observed_days_in_window > 0 then 'derived'
            when reported_grades_usable and reported_crs_grade is not null then 'reported'
            when died_of_crs then 'derived'
        end as crs_grade_source,
        case
            when observed_days_in_window > 0 then 'derived'
            when reported_grades_usable and reported_icans_grade is not null then 'reported'
            when died_of_icans then 'derived'
        end as icans_grade_source
    from combined
),

maxima as (
    select
        *,
        case crs_grade_source
            when 'derived' then greatest(
                coalesce(crs_daily_max_grade, 0), case when died_of_crs then 5 else 0 end
            )
            when 'reported' then greatest(
                reported_crs_grade, case when died_of_crs then 5 else 0 end
            )
        end as crs_max_grade,
        case icans_grade_source
            when 'derived' then greatest(
                coalesce(icans_daily_max_grade, 0), case when died_of_icans then 5 else 0 end
            )
            when 'reported' then greatest(
                reported_icans_grade, case when died_of_icans then 5 else 0 end
            )
        end as icans_max_grade
    from graded
),

final as (
    select
        patient_key,
        centre_code,
        observed_days_in_window,
        observed_days_in_window < 14 and coalesce(death_day >= 14, true) as sparse_observation,
        crs_max_grade,
        crs_grade_source,
        case when crs_max_grade >= 1 then crs_onset_day end as crs_onset_day,
        case
            when crs_max_grade = 0 then 0
            when observed_days_in_window > 0 and crs_max_grade is not null
                then coalesce(crs_duration_days, 0)
        end as crs_duration_days,
        crs_max_grade >= 3 as severe_crs,
        severe_crs_onset_day,
        icans_max_grade,
        icans_grade_source,
        case when icans_max_grade >= 1 then icans_onset_day end as icans_onset_day,
        case
            when icans_max_grade = 0 then 0
            when observed_days_in_window > 0 and icans_max_grade is not null
                then coalesce(icans_duration_days, 0)
        end as icans_duration_days,
        icans_max_grade >= 3 or any_icans_seizure as severe_icans,
        severe_icans_onset_day,
        crs_max_grade >= 1 and icans_max_grade >= 1 as concurrent_crs_icans,
        case
            when crs_max_grade >= 3 or icans_max_grade >= 3 then 'grade_3_plus'
            when crs_max_grade is null or icans_max_grade is null then null
            when crs_max_grade = 0 and icans_max_grade = 0 then 'none'
            else 'other'
        end as toxicity_group,
        died_of_crs,
        died_of_icans,
        death_day,
        crs_derived_grade,
        icans_derived_grade,
        reported_crs_grade,
        reported_icans_grade,
        reported_grading_system
    from maxima
)

select * from final
