{#
  Daily ASTCT 2019 CRS and ICANS grades, one row per patient and observed study day of the
  toxicity window (day 0 .. var('toxicity_window_days')), set-wise.

  Several rows of one patient-day combine field by field into the day's worst sign
  (worst_code, max temperature / vasopressors / CAPD, min ICE); the oxygen device is graded
  with the flow of its own row and the day takes the worst row.

  The recursive "treated day" rule (a day without qualifying fever is a CRS day when the
  previous day was a CRS day, anti-cytokine therapy was given on or before the day, and the
  organ grade is >= 1) is computed as gaps-and-islands:
    a day "can carry" an episode when it is a fever day or (organ grade >= 1 and treated);
    an island is a maximal run of consecutive observed calendar days that can carry;
    a day is a CRS day iff it is a fever day, or it can carry and an earlier day of its island
    is a fever day.
  This is exactly the recursion: by induction along the island every day after its first
  fever day is a CRS day, and a chain of CRS days back from a non-fever day never leaves the
  island and must start at a fever day. Because treatment exposure only grows with time,
  "treated" on a day implies "treated" on every later day. tests/assert_treated_day_islands_
  match_recursion.sql checks it against a recursive CTE on the warehouse data.
#}
with

observations as (
    select * from {{ ref('int_daily_observations_accepted') }}
),

index_infusions as (
    select patient_key, centre_code, infusion_date from {{ ref('int_index_infusions') }}
),

patients as (
    select patient_key, age_at_infusion from {{ ref('int_patients_deduplicated') }}
),

treatments as (
    select * from {{ ref('int_treatments_standardised') }}
),

first_anti_cytokine as (
    select
        patient_key,
        min(admin_date) as first_treatment_date
    from treatments
    where drug_class in {{ crs_anti_cytokine_classes() }}
    group by patient_key
),

window_rows as (
    select
        observations.*,
        index_infusions.centre_code as index_centre_code,
        observations.obs_date - index_infusions.infusion_date as study_day,
        {{ crs_hypoxia_grade('observations.oxygen_device', 'observations.oxygen_flow_l_min') }}
            as row_hypoxia_grade
    from observations
    inner join index_infusions on observations.patient_key = index_infusions.patient_key
    where observations.obs_date - index_infusions.infusion_date
        between 0 and {{ var('toxicity_window_days') }}
),

day_signs as (
    select
        patient_key,
        study_day,
        any_value(index_centre_code) as centre_code,
        min(obs_date) as obs_date,
        count(*) as n_source_rows,
        max(tmax_c) as tmax_c,
        {{ worst_code('fever_other_cause', ['yes', 'no']) }} as fever_other_cause,
        {{ worst_code('hypotension', ['no', 'yes']) }} as hypotension,
        max(vasopressor_count) as vasopressor_count,
        {{ worst_code('vasopressin', ['no', 'yes']) }} as vasopressin,
        max(row_hypoxia_grade) as hypoxia_grade,
        min(ice_score) as ice_score,
        max(capd_score) as capd_score,
        {{ worst_code('consciousness', ['alert', 'awakens_spontaneously', 'awakens_to_voice',
            'awakens_to_tactile', 'unarousable']) }} as consciousness,
        {{ worst_code('seizure', ['none', 'resolved_rapidly', 'prolonged_or_repetitive']) }}
            as seizure,
        {{ worst_code('motor_weakness', ['no', 'yes']) }} as motor_weakness,
        {{ worst_code('cerebral_edema', ['none', 'focal', 'diffuse']) }} as cerebral_edema,
        {{ worst_code('raised_icp_signs', ['no', 'yes']) }} as raised_icp_signs,
        {{ worst_code('neuro_other_cause', ['yes', 'no']) }} as neuro_other_cause
    from window_rows
    group by patient_key, study_day
),

crs_signs as (
    select
        day_signs.*,
        {{ crs_hypotension_grade('vasopressor_count', 'vasopressin', 'hypotension') }}
            as hypotension_grade,
        {{ crs_hypotension_driver('vasopressor_count', 'vasopressin', 'hypotension') }}
            as hypotension_driver,
        {{ crs_fever_day('tmax_c', 'fever_other_cause') }} as fever_day,
        coalesce(first_anti_cytokine.first_treatment_date <= day_signs.obs_date, false)
            as anti_cytokine_given
    from day_signs
    left join first_anti_cytokine on day_signs.patient_key = first_anti_cytokine.patient_key
),

organ_graded as (
    select
        *,
        {{ crs_organ_grade('hypotension_grade', 'hypoxia_grade') }} as organ_grade,
        {{ crs_organ_driver('hypotension_grade', 'hypotension_driver', 'hypoxia_grade') }}
            as organ_driver
    from crs_signs
),

episode_carriers as (
    select
        *,
        fever_day or (organ_grade >= 1 and anti_cytokine_given) as can_carry_episode
    from organ_graded
),

islands as (
    select
        *,
        study_day - row_number() over (
            partition by patient_key, can_carry_episode order by study_day
        ) as island_id
    from episode_carriers
),

episodes as (
    select
        *,
        min(case when fever_day then study_day end) over (
            partition by patient_key, can_carry_episode, island_id
        ) as island_first_fever_day
    from islands
),

crs_days as (
    select
        *,
        fever_day
            or (can_carry_episode and coalesce(island_first_fever_day < study_day, false))
            as crs_day
    from episodes
),

crs_graded as (
    select
        *,
        not fever_day
            and anti_cytokine_given
            and coalesce(
                lag(study_day) over (partition by patient_key order by study_day) = study_day - 1
                and lag(crs_day) over (partition by patient_key order by study_day),
                false
            ) as treated_day,
        case
            when fever_day then greatest(1, organ_grade)
            when crs_day then organ_grade
            else 0
        end as crs_grade,
        case
            when fever_day and organ_grade = 0 then 'fever'
            when crs_day then organ_driver
        end as crs_driver
    from crs_days
),

icans_domains as (
    select
        crs_graded.*,
        coalesce(patients.age_at_infusion < 12, false) as is_child,
        case when coalesce(patients.age_at_infusion < 12, false) then 'capd' else 'ice' end
            as encephalopathy_score_used,
        case
            when coalesce(patients.age_at_infusion < 12, false)
                then {{ icans_capd_grade('capd_score', 'consciousness') }}
            else {{ icans_ice_grade('ice_score', 'consciousness') }}
        end as score_grade,
        {{ icans_consciousness_grade('consciousness') }} as consciousness_grade,
        {{ icans_seizure_grade('seizure') }} as seizure_grade,
        {{ icans_motor_grade('motor_weakness') }} as motor_grade,
        {{ icans_edema_grade('cerebral_edema') }} as edema_grade,
        {{ icans_raised_icp_grade('raised_icp_signs') }} as raised_icp_grade,
        coalesce(neuro_other_cause = 'yes', false) as neuro_other_cause_day
    from crs_graded
    left join patients on crs_graded.patient_key = patients.patient_key
),

icans_graded as (
    select
        *,
        case
            when neuro_other_cause_day then 0
            else greatest(
                score_grade, consciousness_grade, seizure_grade, motor_grade, edema_grade,
                raised_icp_grade
            )
        end as icans_grade,
        not neuro_other_cause_day and seizure_grade > 0 as icans_seizure
    from icans_domains
),

final as (
    select
        patient_key,
        centre_code,
        study_day,
        obs_date,
        n_source_rows,
        tmax_c,
        fever_other_cause,
        hypotension,
        vasopressor_count,
        vasopressin,
        hypotension_grade,
        hypoxia_grade,
        organ_grade,
        organ_driver,
        anti_cytokine_given,
        fever_day,
        treated_day,
        crs_day,
        crs_grade,
        crs_driver,
        is_child,
        encephalopathy_score_used,
        ice_score,
        capd_score,
        consciousness,
        seizure,
        motor_weakness,
        cerebral_edema,
        raised_icp_signs,
        neuro_other_cause,
        icans_grade,
        case
            when icans_grade = 0 then null
            when score_grade = icans_grade then encephalopathy_score_used
            when consciousness_grade = icans_grade then 'consciousness'
            when seizure_grade = icans_grade then 'seizure'
            when motor_grade = icans_grade then 'motor'
            when edema_grade = icans_grade then 'edema'
            when raised_icp_grade = icans_grade then 'raised_icp'
        end as icans_driver,
        icans_seizure
    from icans_graded
)

select * from final
